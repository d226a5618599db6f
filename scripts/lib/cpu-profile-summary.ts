import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * `npm run bench -- --cpu-prof DIR` summarised (issue 13: "the profile that shows it"): per
 * profiled process, its busy time, the functions with the most self time, those with the most
 * inclusive time (the function and everything it called), and the share of busy time spent in
 * each group of code (GC, JSON, the Redis client, mysql2, amqplib, fastify, pino, JWT, …); time in
 * Node itself (socket writes, hashing) counts for the package or own code that called it.
 *
 * Reads the V8 `.cpuprofile` format (the inspector's Profiler.stop result, what DevTools opens):
 * a tree of `nodes` (each a call frame with its children's ids), the `samples` (the node on top of
 * the stack at each tick) and `timeDeltas` (µs since the previous tick). A sample's time is the
 * delta of the tick after it, which is the time it stood for.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
  /** Added by lib/cpu-profile.mjs: Date.now() when profiling started (the first sample's time, about). */
  wallStartMs?: number;
}

export interface FunctionTime {
  /** `name (file:line)`; the file is the package (for node_modules) or the script's base name. */
  name: string;
  group: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  file: string;
  /** `api` or `consumers` (the profile's file name says which). */
  role: string;
  /** Sampled wall time. */
  wallMs: number;
  /** Wall time minus (idle): the process on a CPU, or waiting for one. */
  busyMs: number;
  /** By self time, most first. */
  topSelf: FunctionTime[];
  /** By inclusive time, most first (each function counted once per sample, recursion or not). */
  topTotal: FunctionTime[];
  /** Self time per group, share of busy time, most first. */
  groups: { group: string; ms: number; share: number }[];
}

/** Groups of packages, first match wins (so JWT's fastify plugin counts as JWT). */
const PACKAGE_GROUPS: [string, RegExp][] = [
  ['jwt', /^(fast-jwt|@fastify\/jwt|jsonwebtoken|jose|asn1\.js|ecdsa-sig-formatter)$/],
  ['redis client', /^(ioredis|@ioredis\/.*|redis-parser|redis-errors|denque|cluster-key-slot|standard-as-callback)$/],
  ['mysql2', /^(mysql2|lru\.min|lru-cache|named-placeholders|sqlstring|generate-function|long|iconv-lite|seq-queue)$/],
  ['drizzle', /^drizzle-orm$/],
  ['amqplib', /^(amqplib|buffer-more-ints|url-parse|querystringify|requires-port)$/],
  ['undici', /^undici$/],
  [
    'pino',
    /^(pino|pino-.*|@pinojs\/.*|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|on-exit-leak-free|atomic-sleep|safe-stable-stringify)$/,
  ],
  [
    'json schema',
    /^(ajv|ajv-formats|fast-json-stringify|fast-uri|@sinclair\/typebox|json-schema-ref-resolver|@fastify\/ajv-compiler|@fastify\/fast-json-stringify-compiler)$/,
  ],
  [
    'fastify',
    /^(fastify|@fastify\/.*|find-my-way|avvio|light-my-request|fastq|toad-cache|secure-json-parse|process-warning|abstract-logging|rfdc|fast-querystring|ret|safe-regex2)$/,
  ],
  ['opentelemetry', /^@opentelemetry\/.*$/],
];

/** V8's pseudo-frames. */
const PSEUDO: Record<string, string> = {
  '(garbage collector)': 'gc',
  '(idle)': 'idle',
  '(program)': 'program (native, unattributed)',
  '(root)': 'program (native, unattributed)',
};

/** Built-ins V8 shows as frames of their own (no script): JSON's are the ones worth naming. */
const JSON_BUILTINS = new Set(['parse', 'stringify', 'JSONParse', 'JSONStringify']);

/** The package a script URL belongs to (`@scope/name` or `name`), or null outside node_modules. */
export function packageOf(url: string): string | null {
  const at = url.lastIndexOf('/node_modules/');
  if (at < 0) return null;
  const [first, second] = url.slice(at + '/node_modules/'.length).split('/');
  if (!first) return null;
  return first.startsWith('@') && second ? `${first}/${second}` : first;
}

/** Which group a frame's self time counts in. */
export function groupOf(frame: CallFrame): string {
  const pseudo = PSEUDO[frame.functionName];
  if (pseudo && !frame.url) return pseudo;
  if (!frame.url) return JSON_BUILTINS.has(frame.functionName) ? 'json' : 'v8 built-ins';
  // Node's own fetch is undici, bundled.
  if (frame.url.startsWith('node:internal/deps/undici')) return 'undici';
  if (frame.url.startsWith('node:')) return 'node core';
  const pkg = packageOf(frame.url);
  if (pkg === null) return 'own code';
  for (const [group, pattern] of PACKAGE_GROUPS) if (pattern.test(pkg)) return group;
  return 'other packages';
}

function frameName(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const where = packageOf(frame.url) ?? basename(frame.url.replace(/^file:\/\//, ''));
  return `${name} (${where}:${frame.lineNumber + 1})`;
}

/**
 * Summarises one profile; `top` functions in each list. With `fromMs` (wall-clock ms) and a
 * profile that says when it started, samples before `fromMs` are left out (start-up).
 */
export function summarizeProfile(profile: CpuProfile, file: string, top = 12, fromMs = 0): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const keyOf = new Map<number, string>();
  const info = new Map<string, FunctionTime>();
  for (const node of profile.nodes) {
    const name = frameName(node.callFrame);
    keyOf.set(node.id, name);
    if (!info.has(name)) info.set(name, { name, group: groupOf(node.callFrame), selfMs: 0, totalMs: 0 });
  }

  // Time per node: each sample stands for the interval until the next one.
  const selfUs = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  // Sample i was taken sum(timeDeltas[0..i]) µs after the profile started.
  const skipUs = profile.wallStartMs === undefined ? 0 : (fromMs - profile.wallStartMs) * 1000;
  let atUs = 0;
  for (let i = 0; i < samples.length; i++) {
    atUs += Math.max(0, timeDeltas[i] ?? 0);
    if (atUs < skipUs) continue;
    const next = i + 1 < timeDeltas.length ? timeDeltas[i + 1]! : 0;
    const id = samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, next));
  }

  // A group's share counts what its code made Node do: node core and built-ins (socket writes,
  // hashing, timers) count for the nearest caller that is a package or our own code.
  const borrowed = new Set(['node core', 'v8 built-ins']);
  const groupAt = (id: number): string => {
    const own = info.get(keyOf.get(id)!)!.group;
    if (!borrowed.has(own)) return own;
    for (let at = parent.get(id); at !== undefined; at = parent.get(at)) {
      const g = info.get(keyOf.get(at)!)!.group;
      if (!borrowed.has(g) && !g.startsWith('program')) return g;
    }
    return own;
  };

  let wallUs = 0;
  let idleUs = 0;
  const groups = new Map<string, number>();
  for (const [id, us] of selfUs) {
    wallUs += us;
    const fn = info.get(keyOf.get(id)!)!;
    if (fn.group === 'idle') {
      idleUs += us;
      continue;
    }
    fn.selfMs += us / 1000;
    const group = groupAt(id);
    groups.set(group, (groups.get(group) ?? 0) + us);
    // Inclusive: every distinct function on the stack, once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf.get(at)!;
      if (seen.has(key)) continue;
      seen.add(key);
      info.get(key)!.totalMs += us / 1000;
    }
  }

  const busyUs = wallUs - idleUs;
  const real = [...info.values()].filter((f) => !f.name.startsWith('(root)') && !f.name.startsWith('(idle)'));
  const round = (f: FunctionTime) => ({ ...f, selfMs: round1(f.selfMs), totalMs: round1(f.totalMs) });
  return {
    file,
    role: basename(file).replace(/-\d+\.cpuprofile$/, ''),
    wallMs: round1(wallUs / 1000),
    busyMs: round1(busyUs / 1000),
    topSelf: [...real]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map(round),
    topTotal: real
      .filter((f) => !PSEUDO[f.name])
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, top)
      .map(round),
    groups: [...groups]
      .map(([group, us]) => ({ group, ms: round1(us / 1000), share: busyUs > 0 ? round3(us / busyUs) : 0 }))
      .sort((a, b) => b.ms - a.ms),
  };
}

/**
 * Every `.cpuprofile` in `dir` written at or after `since` (ms since the epoch), summarised from
 * `since` on: the processes' start-up is left out.
 */
export function summarizeProfiles(dir: string, since = 0, top = 12): ProfileSummary[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .filter((path) => statSync(path).mtimeMs >= since)
    .sort()
    .map((path) => summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, path, top, since));
}

/** A few lines per process for the bench's output and the README. */
export function formatProfileSummary(summary: ProfileSummary, top = 10): string {
  const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
  const busy = summary.busyMs;
  const share = (ms: number) => (busy > 0 ? pct(ms / busy) : '–');
  const lines = [
    `${summary.role} (${basename(summary.file)}): busy ${Math.round(busy)} ms of ${Math.round(summary.wallMs)} ms sampled`,
    `  by group (self time): ${summary.groups
      .slice(0, 12)
      .map((g) => `${g.group} ${pct(g.share)}`)
      .join(', ')}`,
    '  top self time:',
    ...summary.topSelf.slice(0, top).map((f) => `    ${share(f.selfMs).padStart(6)}  ${f.name} [${f.group}]`),
    '  top inclusive time:',
    ...summary.topTotal.slice(0, top).map((f) => `    ${share(f.totalMs).padStart(6)}  ${f.name}`),
  ];
  return lines.join('\n');
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
