import type { Priority } from '@notes/contracts';

/**
 * Realistic notes for the load (issue 6): a body of 300–2,000 characters of prose with a few
 * #tags and one link, and priorities 70% normal / 20% high / 10% low. Every note differs (a run
 * id and a sequence number are in the title and the body), so the API's hashed-payload
 * idempotency window never turns a bench write into a replay.
 */
export interface NoteInput {
  title: string;
  body: string;
  priority: Priority;
}

export const BODY_MIN_CHARS = 300;
export const BODY_MAX_CHARS = 2000;

const WORDS = (
  'the a pipeline note queue worker message broker database transaction outbox relay consumer ' +
  'priority retry backoff latency throughput memory process request response server client ' +
  'write read commit publish confirm acknowledge deliver handler result checksum reading time ' +
  'words characters link tag morning evening meeting idea draft plan review ship test measure ' +
  'fast slow careful simple reliable durable small large quiet busy green blue early late and ' +
  'with from into over under after before while because although so then also never always'
).split(' ');
const TAGS = ['work', 'ideas', 'todo', 'reading', 'travel', 'café', 'bench', 'q3_plan', 'notes2', 'ops'];
const HOSTS = ['example.com', 'docs.example.org', 'blog.example.net', 'wiki.example.io'];

/** A small fast PRNG (mulberry32): reproducible with a seed, and far cheaper than crypto. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pickPriority(r: number): Priority {
  if (r < 0.7) return 'normal';
  if (r < 0.9) return 'high';
  return 'low';
}

export class NoteFactory {
  #seq = 0;
  readonly #random: () => number;

  constructor(
    private readonly runId: string,
    seed = Date.now(),
  ) {
    this.#random = mulberry32(seed);
  }

  #int(min: number, max: number): number {
    return min + Math.floor(this.#random() * (max - min + 1));
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#random() * list.length)] as T;
  }

  next(): NoteInput {
    const seq = ++this.#seq;
    const target = this.#int(BODY_MIN_CHARS, BODY_MAX_CHARS);
    const tags = new Set<string>();
    const tagCount = this.#int(2, 4);
    while (tags.size < tagCount) tags.add(this.#pick(TAGS));
    const link = `https://${this.#pick(HOSTS)}/${this.runId}/${seq}?ref=bench`;
    const head = `Note ${seq} of run ${this.runId}. `;
    const tail = ` ${[...tags].map((t) => `#${t}`).join(' ')} See ${link}.`;
    // Prose fills the room left by the head and tail exactly, so the body is `target` long.
    const room = target - head.length - tail.length;
    let prose = '';
    while (prose.length < room) prose += `${this.#pick(WORDS)} `;
    prose = prose.slice(0, room);
    const body = head + prose + tail;
    return {
      title: `Bench ${this.runId} #${seq}: ${this.#pick(WORDS)} ${this.#pick(WORDS)}`,
      body,
      priority: pickPriority(this.#random()),
    };
  }
}
