import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs `npm run bench` (bench.ts) as a child, bounded: a hung bench fails the test instead of hanging the suite. */
const SCRIPTS = fileURLToPath(new URL('..', import.meta.url));

export function runBench(
  args: string[],
  timeoutMs = 240_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench.ts', ...args], { cwd: SCRIPTS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
