/**
 * The Node/V8 flags `npm start` runs the API and the consumers with (scripts/start.ts); the
 * Dockerfiles' CMDs pass the same defaults. Kept apart from start.ts so a test can read them
 * without starting the product.
 *
 * --max-old-space-size=256: V8 sizes its heap for the machine (on 24 GB: a 2 GB+ old generation
 * that may grow to 4× the live objects before a full collection). Under `npm run bench` the API's
 * live heap is ~50 MB, yet its old space reached 170 MB and its RSS 250-300 MB. A 256 MB limit
 * also makes V8 let the heap grow only ~1.3× past live between full collections: API ~160 MB,
 * consumer ~120 MB at peak. A live heap near 256 MB would be a leak; the process then dies with
 * "heap out of memory" and is restarted.
 *
 * --max-semi-space-size (API only, API_SEMI_SPACE_MB, default 16 = V8's own limit for this heap):
 * the API keeps every in-flight request's objects alive across its batched round trips, so each
 * scavenge copies a lot and their number is what costs. Measured with `npm run bench` (burst and
 * steady 500/s): 32 MiB halved the scavenges and cut the API's CPU per note by ~6-9%, but added
 * ~30-35 MB to its RSS and put the product's peak over its 350 MiB budget; 8 MiB doubled the
 * scavenges (+10% CPU per note) to save ~15 MB. V8 rounds the size up to a power of two.
 */
import type { Config } from '@notes/contracts';

const HEAP = ['--max-old-space-size=256'];

export function nodeFlags(role: 'api' | 'consumer', config: Pick<Config, 'apiSemiSpaceMb'>): string[] {
  return role === 'api' ? [...HEAP, `--max-semi-space-size=${config.apiSemiSpaceMb}`] : [...HEAP];
}
