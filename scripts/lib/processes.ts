import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';

/**
 * Memory and CPU of the processes under test, read from /proc (Linux). Every 500 ms the monitor
 * re-walks the process tree under its roots (a restarted consumer gets a new pid), reads each
 * process's VmRSS and VmHWM (the kernel's own peak) and its CPU ticks. Processes are named by
 * role: `api`, `consumer-1`…, `supervisor` (npm start), the BullMQ comparator's `bullmq-server` and
 * `bullmq-worker` (bench/bullmq-pipeline/), and the shared services by their binary.
 */
export interface ProcessFigures {
  name: string;
  pids: number[];
  /** Peak resident set in MiB while the monitor ran (VmRSS sampled every 500 ms). */
  peakRssMb: number;
  /** The kernel's lifetime peak (VmHWM, start-up included) in MiB; null for the shared services. */
  hwmMb: number | null;
  /** The last sampled VmRSS in MiB. */
  rssMb: number;
  /** CPU seconds (user + system) used while the monitor ran. */
  cpuS: number;
}

const CLOCK_TICKS = 100;
const SERVICE_BINARIES = ['mariadbd', 'mysqld', 'beam.smp', 'redis-server'];

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

function readStat(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may contain spaces: split after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readStat(Number(entry));
    if (info) out.push(info);
  }
  return out;
}

function memoryKb(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)/.exec(status);
    const hwm = /VmHWM:\s+(\d+)/.exec(status);
    return { rss: Number(rss?.[1] ?? 0), hwm: Number(hwm?.[1] ?? 0) };
  } catch {
    return null;
  }
}

/** The role of one of our node processes, from its command line and working directory. */
function roleOf(pid: number): string | null {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    // Source (start.ts, main.ts under tsx) or the built bundles npm start runs (dist/*.js).
    if (/\bstart\.[jt]s\b/.test(cmdline)) return 'supervisor';
    if (pid === process.pid) return 'bench';
    const bullmq = /bullmq-pipeline\/(?:dist\/)?(server|worker)\.[jt]s\b/.exec(cmdline);
    if (bullmq) return `bullmq-${bullmq[1]}`;
    const cwd = basename(readlinkSync(`/proc/${pid}/cwd`));
    if (/\bmain\.[jt]s\b/.test(cmdline) && (cwd === 'api' || cwd === 'consumers'))
      return cwd === 'api' ? 'api' : 'consumer';
    return null;
  } catch {
    return null;
  }
}

/** The product's own processes (npm start's tree), as the monitor names them. */
export function isProductProcess(name: string): boolean {
  return name === 'api' || name === 'supervisor' || name.startsWith('consumer-');
}

/** The BullMQ comparator's own processes. */
export function isBullmqProcess(name: string): boolean {
  return name.startsWith('bullmq-');
}

/** The pid listening on a loopback TCP port (for --url), via `ss -ltnp`; null when unknown. */
export async function pidListeningOn(port: number): Promise<number | null> {
  try {
    const { stdout } = await promisify(execFile)('ss', ['-Hltnp', `sport = :${port}`]);
    const m = /pid=(\d+)/.exec(stdout);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The parent of a pid (so --url can find npm start's other children: the consumers). */
export function parentOf(pid: number): number | null {
  return readStat(pid)?.ppid ?? null;
}

export function isSupervisor(pid: number): boolean {
  return roleOf(pid) === 'supervisor';
}

interface Tracked {
  name: string;
  peakKb: number;
  hwmKb: number | null;
  lastKb: number;
  /** CPU ticks per pid: first and last seen. */
  ticks: Map<number, { first: number; last: number }>;
}

export class ProcessMonitor {
  readonly #roots: number[];
  readonly #services: boolean;
  readonly #tracked = new Map<string, Tracked>();
  /** A stable name per pid: consumers are numbered in the order they are first seen. */
  readonly #names = new Map<number, string>();
  #consumers = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Every sample: [seconds since start, name, RSS MiB] (the soak's slope). */
  readonly series: { t: number; name: string; rssMb: number }[] = [];
  #started = 0;
  /** CPU is counted only inside the window opened by startCpuWindow() and closed by endCpuWindow(). */
  #cpuOpen = true;

  readonly #keepSeries: boolean;
  /** Names left out (the other pipeline's processes, when the bench runs both). */
  readonly #ignore: (name: string) => boolean;
  #windowStarted = 0;
  #windowEnded: number | null = null;

  /**
   * `roots`: pids whose trees are ours; `services`: also watch MariaDB, RabbitMQ and Redis;
   * `ignore`: named processes under the roots that are not to be watched.
   */
  constructor(
    roots: number[],
    opts: { services?: boolean; keepSeries?: boolean; ignore?: (name: string) => boolean } = {},
  ) {
    this.#roots = roots;
    this.#services = opts.services ?? true;
    this.#keepSeries = opts.keepSeries ?? false;
    this.#ignore = opts.ignore ?? (() => false);
  }

  /** Wall-clock seconds of the CPU window (so far, while it is open). */
  get cpuWindowS(): number {
    return ((this.#windowEnded ?? Date.now()) - (this.#windowStarted || this.#started)) / 1000;
  }

  start(intervalMs = 500): void {
    if (this.#timer) return;
    this.#started = Date.now();
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  stop(): ProcessFigures[] {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.sample();
    return this.figures();
  }

  /** From now on CPU counts from zero (call when the load starts). */
  startCpuWindow(): void {
    this.sample();
    for (const tr of this.#tracked.values()) for (const tk of tr.ticks.values()) tk.first = tk.last;
    this.#cpuOpen = true;
    this.#windowStarted = Date.now();
    this.#windowEnded = null;
  }

  /** Freezes the CPU figures (call when the last write is processed, before reading results back). */
  endCpuWindow(): void {
    this.sample();
    this.#cpuOpen = false;
    this.#windowEnded = Date.now();
  }

  #nameOf(p: ProcInfo, ours: boolean): string | null {
    const known = this.#names.get(p.pid);
    if (known) return known;
    let name: string | null = null;
    if (ours) {
      const role = roleOf(p.pid);
      if (role === 'consumer') name = `consumer-${++this.#consumers}`;
      else name = role;
    } else if (this.#services && SERVICE_BINARIES.includes(p.comm)) {
      name = p.comm === 'mysqld' ? 'mariadbd' : p.comm;
    }
    if (name && this.#ignore(name)) name = null;
    if (name) this.#names.set(p.pid, name);
    return name;
  }

  sample(): void {
    const procs = allProcesses();
    const children = new Map<number, ProcInfo[]>();
    for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
    const ours = new Set<number>();
    const stack = [...this.#roots];
    while (stack.length) {
      const pid = stack.pop() as number;
      if (ours.has(pid)) continue;
      ours.add(pid);
      for (const c of children.get(pid) ?? []) stack.push(c.pid);
    }
    const t = (Date.now() - this.#started) / 1000;
    const rssNow = new Map<string, number>();
    for (const p of procs) {
      const name = this.#nameOf(p, ours.has(p.pid));
      if (!name) continue;
      const mem = memoryKb(p.pid);
      if (!mem) continue;
      let tr = this.#tracked.get(name);
      if (!tr) {
        tr = { name, peakKb: 0, hwmKb: null, lastKb: 0, ticks: new Map() };
        this.#tracked.set(name, tr);
      }
      // Several pids under one name (a restarted consumer) add up; the shared services' VmHWM
      // covers their whole life, not this run, so it is left out.
      rssNow.set(name, (rssNow.get(name) ?? 0) + mem.rss);
      if (ours.has(p.pid)) tr.hwmKb = Math.max(tr.hwmKb ?? 0, mem.hwm);
      const tk = tr.ticks.get(p.pid);
      if (!tk) tr.ticks.set(p.pid, { first: p.ticks, last: p.ticks });
      else if (this.#cpuOpen) tk.last = p.ticks;
    }
    for (const [name, kb] of rssNow) {
      const tr = this.#tracked.get(name);
      if (tr) {
        tr.lastKb = kb;
        tr.peakKb = Math.max(tr.peakKb, kb);
      }
      if (this.#keepSeries) this.series.push({ t, name, rssMb: kb / 1024 });
    }
  }

  figures(): ProcessFigures[] {
    const order = (n: string) =>
      n === 'api' || n === 'bullmq-server'
        ? 0
        : n.startsWith('consumer') || n === 'bullmq-worker'
          ? 1
          : n === 'supervisor'
            ? 2
            : n === 'bench'
              ? 4
              : 3;
    return [...this.#tracked.values()]
      .sort((a, b) => order(a.name) - order(b.name) || a.name.localeCompare(b.name, 'en', { numeric: true }))
      .map((tr) => {
        let ticks = 0;
        for (const v of tr.ticks.values()) ticks += v.last - v.first;
        return {
          name: tr.name,
          pids: [...tr.ticks.keys()],
          peakRssMb: tr.peakKb / 1024,
          hwmMb: tr.hwmKb === null ? null : tr.hwmKb / 1024,
          rssMb: tr.lastKb / 1024,
          cpuS: ticks / CLOCK_TICKS,
        };
      });
  }
}
