import { analyse } from '@notes/consumers/analysis.ts';

/**
 * The consumer's analysis alone, on the largest bodies the API accepts (64 KiB): crafted ones
 * that made the old backtracking trim quadratic, and an ordinary one. The worst corpus's cost per
 * KiB is the figure to watch: work per job is linear in the body (docs/isolation.md), so it stays
 * near the ordinary note's however the body is built.
 */
const KIB_64 = 64 * 1024;

function fill(unit: string, prefix = '', suffix = ''): string {
  const room = KIB_64 - Buffer.byteLength(prefix + suffix);
  const n = Math.floor(room / Buffer.byteLength(unit));
  return prefix + unit.repeat(n) + suffix;
}

export const ANALYSIS_CORPORA: readonly { name: string; body: string }[] = [
  { name: 'link + dots + letter', body: fill('.', 'see http://x', 'a') },
  { name: 'link + trailing dots', body: fill('.', 'see http://x') },
  { name: 'link + mixed punctuation', body: fill('.,;:!?)]}\'"', 'http://x', 'a') },
  { name: 'hashes', body: fill('#') },
  { name: 'tag of combining marks', body: fill('e\u0301', '#') },
  { name: 'astral letters then #', body: fill('𝐀', '', '#x') },
  { name: 'repeated schemes', body: fill('http://') },
  { name: 'mixed whitespace + words', body: fill('w \u3000\t\u00a0') },
  {
    name: 'ordinary prose',
    body: fill('the #pipeline note see https://example.com/a?b=1, then review. '),
  },
];

export interface AnalysisCost {
  corpora: { name: string; bytes: number; msPerKiB: number }[];
  worst: { name: string; msPerKiB: number };
  ordinaryMsPerKiB: number;
}

/** Median time of `analyse(body)` over repeated runs, per KiB of UTF-8. */
function costPerKiB(body: string): number {
  const kib = Buffer.byteLength(body) / 1024;
  for (let i = 0; i < 3; i++) analyse(body); // warm the JIT
  const times: number[] = [];
  const until = performance.now() + 150;
  while (times.length < 5 || (performance.now() < until && times.length < 200)) {
    const t0 = performance.now();
    analyse(body);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return (times[Math.floor(times.length / 2)] as number) / kib;
}

export function measureAnalysisCost(): AnalysisCost {
  const corpora = ANALYSIS_CORPORA.map((c) => ({
    name: c.name,
    bytes: Buffer.byteLength(c.body),
    msPerKiB: costPerKiB(c.body),
  }));
  const crafted = corpora.filter((c) => c.name !== 'ordinary prose');
  const worst = crafted.reduce((a, b) => (b.msPerKiB > a.msPerKiB ? b : a));
  const ordinary = corpora.find((c) => c.name === 'ordinary prose');
  return { corpora, worst: { name: worst.name, msPerKiB: worst.msPerKiB }, ordinaryMsPerKiB: ordinary?.msPerKiB ?? 0 };
}

export function formatAnalysisCost(a: AnalysisCost): string {
  const us = (msPerKiB: number) => `${(msPerKiB * 1000).toFixed(1)} µs/KiB`;
  return (
    `analysis (consumer CPU, 64 KiB bodies): worst ${us(a.worst.msPerKiB)} (${a.worst.name}), ` +
    `ordinary prose ${us(a.ordinaryMsPerKiB)}; a worst-case 64 KiB note costs ${(a.worst.msPerKiB * 64).toFixed(2)} ms`
  );
}
