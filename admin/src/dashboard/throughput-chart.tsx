import type { Stats } from '../providers/data-provider.ts';

type Minute = Stats['throughput']['minutes'][number];

/**
 * Bars of jobs finished per minute (processed green, dead red, the rest grey), oldest left.
 * Plain SVG: one small chart doesn't justify a charting library in the bundle.
 */
export function ThroughputChart({ minutes }: { minutes: Minute[] }) {
  const width = 600;
  const height = 120;
  const axis = 14;
  const max = Math.max(1, ...minutes.map((m) => m.finished));
  const bar = width / Math.max(1, minutes.length);
  const y = (n: number) => (n / max) * (height - 16);
  return (
    <svg
      viewBox={`0 0 ${width} ${height + axis}`}
      width="100%"
      height={height + axis}
      role="img"
      aria-label="Jobs finished per minute"
      data-testid="throughput-chart"
    >
      {minutes.map((m, i) => {
        const x = i * bar + 2;
        const w = bar - 4;
        const dead = y(m.dead);
        const processed = y(m.processed);
        const other = y(m.finished - m.processed - m.dead);
        return (
          <g key={m.minute}>
            <title>{`${new Date(m.minute).toLocaleTimeString()}: ${m.finished} finished (${m.processed} processed, ${m.dead} dead)`}</title>
            <rect x={x} y={height - processed} width={w} height={processed} fill="#2e7d32" />
            <rect x={x} y={height - processed - dead} width={w} height={dead} fill="#c62828" />
            <rect x={x} y={height - processed - dead - other} width={w} height={other} fill="#9e9e9e" />
            {m.finished > 0 && (
              <text x={x + w / 2} y={height - processed - dead - other - 3} fontSize="10" textAnchor="middle">
                {m.finished}
              </text>
            )}
          </g>
        );
      })}
      <text x={2} y={height + axis - 2} fontSize="10" fill="#666">
        {minutes.length} min ago
      </text>
      <text x={width - 2} y={height + axis - 2} fontSize="10" fill="#666" textAnchor="end">
        now
      </text>
    </svg>
  );
}
