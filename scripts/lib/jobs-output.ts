import { SingleBar } from 'cli-progress';

/**
 * What `npm run jobs` prints: one JSON object on stdout with --json, readable lines otherwise;
 * progress on stderr, a bar on a terminal and plain lines in a pipe (stdout stays the result).
 */

export interface Progress {
  update: (done: number, total: number) => void;
  stop: () => void;
}

export function createReporter(json: boolean) {
  const write = (s: string) => process.stdout.write(`${s}\n`);
  return {
    note(line: string) {
      process.stderr.write(`${line}\n`);
    },
    error(line: string) {
      if (json) write(JSON.stringify({ error: line }));
      process.stderr.write(`jobs: ${line}\n`);
    },
    result(value: unknown, line: string) {
      write(json ? JSON.stringify(value) : line);
    },
    table(rows: Record<string, unknown>[], columns: string[]) {
      if (json) return write(JSON.stringify({ data: rows }));
      if (rows.length === 0) return write('(no jobs)');
      const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v).replace(/\s+/g, ' ').slice(0, 60));
      const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
      const line = (values: string[]) =>
        values
          .map((v, i) => v.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd();
      write(line(columns));
      for (const r of rows) write(line(columns.map((c) => cell(r[c]))));
    },
    job(detail: {
      id: string;
      kind: string;
      status: string;
      attempts: number;
      last_error: string | null;
      payload: unknown;
      history: {
        number: number;
        outcome: string;
        error_class: string | null;
        error_message: string | null;
        http_status: number | null;
        duration_ms: number | null;
        trace_id: string | null;
        finished_at: string;
      }[];
    }) {
      if (json) return write(JSON.stringify(detail));
      write(`job ${detail.id}  ${detail.kind}  ${detail.status}  attempts ${detail.attempts}`);
      if (detail.last_error) write(`last error: ${detail.last_error}`);
      write(`payload: ${JSON.stringify(detail.payload)}`);
      write(detail.history.length === 0 ? 'attempts: none recorded' : 'attempts:');
      for (const a of detail.history) {
        const parts = [
          `#${a.number}`,
          a.outcome,
          a.finished_at,
          a.duration_ms !== null ? `${a.duration_ms} ms` : null,
          a.http_status !== null ? `HTTP ${a.http_status}` : null,
          a.error_class,
          a.error_message,
          a.trace_id ? `trace ${a.trace_id}` : null,
        ];
        write(`  ${parts.filter((p) => p !== null).join('  ')}`);
      }
    },
    stats(value: {
      jobs: Record<string, number>;
      failure_inbox: {
        letters: number;
        groups: {
          group_id: string;
          kind: string;
          error_class: string;
          message: string;
          count: number;
          last_seen: string;
        }[];
      };
      control: { kind: string; paused: boolean }[];
    }) {
      if (json) return write(JSON.stringify(value));
      write(
        `jobs: ${
          Object.entries(value.jobs)
            .map(([s, n]) => `${s} ${n}`)
            .join(', ') || 'none'
        }`,
      );
      write(
        `paused: ${
          value.control
            .filter((c) => c.paused)
            .map((c) => c.kind)
            .join(', ') || 'none'
        }`,
      );
      write(`failure inbox: ${value.failure_inbox.letters} dead`);
      for (const g of value.failure_inbox.groups) {
        write(
          `  ${String(g.count).padStart(7)}  ${g.group_id}  ${g.kind}  ${g.error_class}: ${g.message}  (last ${g.last_seen})`,
        );
      }
    },
    progress(label: string): Progress {
      if (process.stderr.isTTY) {
        const bar = new SingleBar({
          format: `${label} [{bar}] {value}/{total} ({percentage}%) eta {eta}s`,
          stream: process.stderr,
          hideCursor: true,
        });
        let started = false;
        return {
          update: (done, total) => {
            if (!started) bar.start(total, 0);
            started = true;
            bar.update(done);
          },
          stop: () => {
            if (started) bar.stop();
            started = false;
          },
        };
      }
      let last = 0;
      return {
        update: (done, total) => {
          if (Date.now() - last < 1000 && done < total) return;
          last = Date.now();
          process.stderr.write(`progress: ${label} ${done}/${total}\n`);
        },
        stop: () => {},
      };
    },
  };
}
