import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Bucket, type Grant, TokenLeases } from './token-leases.ts';

/**
 * The lease logic against a bucket that does what the Redis script does (GCRA, whole tokens), on
 * a clock the test moves: every instance's clock and the bucket's are the same here.
 */
class SimulatedBucket {
  tat = 0;
  calls = 0;
  /** Tokens taken from the bucket, all calls together. */
  granted = 0;
  /** Grants answered only when the test says so (to hold a call in flight). */
  held: (() => void)[] = [];
  hold = false;
  fail: Error | null = null;
  /** Each call's round trip: half of it passes before the bucket answers, half after. */
  latencyMs = 0;

  constructor(
    readonly clock: { now: number },
    readonly bucket: Bucket,
  ) {}

  take = (_key: string, want: number, bucket: Bucket): Promise<Grant> => {
    assert.deepEqual(bucket, this.bucket);
    this.calls++;
    const answer = () => {
      if (this.fail) throw this.fail;
      this.clock.now += this.latencyMs / 2;
      const { intervalUs: interval, burst } = bucket;
      const now = this.clock.now * 1000;
      const tat = Math.max(this.tat, now);
      const free = burst - Math.ceil((tat - now) / interval);
      const granted = Math.min(want, free);
      if (granted < 1) {
        this.clock.now += this.latencyMs / 2;
        return { granted: 0, debtUs: tat - now, waitUs: tat - (burst - 1) * interval - now };
      }
      this.tat = tat + granted * interval;
      this.granted += granted;
      const waitUs = granted === free ? this.tat - (burst - 1) * interval - now : 0;
      this.clock.now += this.latencyMs / 2;
      return { granted, debtUs: this.tat - now, waitUs };
    };
    if (!this.hold) return Promise.resolve().then(answer);
    return new Promise((resolve, reject) => {
      this.held.push(() => {
        try {
          resolve(answer());
        } catch (err) {
          reject(err);
        }
      });
    });
  };

  release() {
    this.hold = false;
    for (const answer of this.held.splice(0)) answer();
  }
}

/** 100 tokens a second (one per 10 ms), bursts of 20; leases of up to 4 tokens. */
const BUCKET: Bucket = { intervalUs: 10_000, burst: 20 };

function setup(instances = 1, maxTokens = 4) {
  const clock = { now: 1_000_000 };
  const bucket = new SimulatedBucket(clock, BUCKET);
  const leases = Array.from({ length: instances }, () => new TokenLeases(bucket.take, maxTokens, () => clock.now));
  return { clock, bucket, leases };
}

const takeAll = async (leases: TokenLeases, n: number) => {
  const taken = [];
  for (let i = 0; i < n; i++) taken.push(await leases.take('u', BUCKET));
  return taken;
};

test('one call to the bucket per lease, and tokens left falling by one per request', async () => {
  const { bucket, leases } = setup();
  const taken = await takeAll(leases[0]!, 8);
  assert.equal(bucket.calls, 2);
  assert.deepEqual(
    taken.map((t) => t.allowed && t.remaining),
    [19, 18, 17, 16, 15, 14, 13, 12],
  );
  // Until full: one interval per token taken from the bucket, leased or spent.
  assert.deepEqual(
    taken.map((t) => t.ttlMs),
    [40, 40, 40, 40, 80, 80, 80, 80],
  );
});

test('a lease is worth one token less every refill interval; what lapsed is refilled in the bucket', async () => {
  const { clock, bucket, leases } = setup();
  await leases[0]!.take('u', BUCKET); // a lease of 4 from a full bucket: 40 ms of debt, 3 tokens unspent
  clock.now += 25; // 15 ms of debt to run: the lease is worth one token
  const worthOne = await leases[0]!.take('u', BUCKET);
  assert.equal(bucket.calls, 1);
  // The bucket has refilled two of the four; one of the lease's two lapsed tokens was spent.
  assert.deepEqual(worthOne, { allowed: true, remaining: 18, ttlMs: 15 });
  // Spending it does not make the lapsed ones good again: the next request asks the bucket.
  await leases[0]!.take('u', BUCKET);
  assert.equal(bucket.calls, 2);
});

test('requests that find no token wait for the one call in flight and share its answer', async () => {
  const { bucket, leases } = setup();
  bucket.hold = true;
  const waiting = Array.from({ length: 6 }, () => leases[0]!.take('u', BUCKET));
  await Promise.resolve();
  assert.equal(bucket.calls, 1, 'one call for six requests');
  bucket.release();
  // Four from the first lease; the other two wait for a second.
  assert.equal((await Promise.all(waiting)).filter((t) => t.allowed).length, 6);
  assert.equal(bucket.calls, 2);
});

test('an empty bucket refuses every request that waited for its answer, with the time until its next token', async () => {
  const { clock, bucket, leases } = setup();
  for (const taken of await takeAll(leases[0]!, 20)) assert.equal(taken.allowed, true);
  assert.equal(bucket.calls, 5);
  bucket.hold = true;
  const waiting = Array.from({ length: 4 }, () => leases[0]!.take('u', BUCKET));
  await Promise.resolve();
  bucket.release();
  for (const taken of await Promise.all(waiting)) assert.deepEqual(taken, { allowed: false, remaining: 0, ttlMs: 10 });
  assert.equal(bucket.calls, 6, 'one call answered all four');
  // A later request asks again: the refusal is not kept.
  clock.now += 10;
  assert.equal((await leases[0]!.take('u', BUCKET)).allowed, true);
  assert.equal(bucket.calls, 7);
});

test('a failed call fails every request waiting for it, and the next request asks again', async () => {
  const { bucket, leases } = setup();
  bucket.hold = true;
  bucket.fail = new Error('redis is away');
  const waiting = Array.from({ length: 3 }, () => leases[0]!.take('u', BUCKET));
  await Promise.resolve();
  bucket.release();
  for (const result of await Promise.allSettled(waiting)) assert.equal(result.status, 'rejected');
  bucket.fail = null;
  assert.equal((await leases[0]!.take('u', BUCKET)).allowed, true);
});

test('one token per call when a lease may hold only one', async () => {
  const { bucket, leases } = setup(1, 1);
  await takeAll(leases[0]!, 5);
  assert.equal(bucket.calls, 5);
});

test('the time a call takes costs no token: a full bucket admits its burst in a row', async () => {
  for (const maxTokens of [1, 4]) {
    const { bucket, leases } = setup(1, maxTokens);
    bucket.latencyMs = 2;
    const taken = await takeAll(leases[0]!, 20);
    assert.ok(
      taken.every((t) => t.allowed),
      `leases of ${maxTokens}`,
    );
  }
});

test('one instance admits what the bucket alone would, but for a token to rounding', async () => {
  // The same schedule against a lease of 4 and against the bucket asked for every request.
  const schedule = (() => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    return Array.from({ length: 3000 }, () => (random() < 0.02 ? random() * 300 : random() * 15));
  })();
  const admitted = async (maxTokens: number) => {
    const { clock, bucket, leases } = setup(1, maxTokens);
    bucket.latencyMs = 1;
    let n = 0;
    for (const step of schedule) {
      clock.now += step;
      if ((await leases[0]!.take('u', BUCKET)).allowed) n++;
    }
    return n;
  };
  const exact = await admitted(1);
  const leased = await admitted(4);
  assert.ok(leased <= exact && leased >= exact * 0.98, `${leased} with leases, ${exact} without`);
});

test('several instances together never admit more than the bucket allows, in any window', async () => {
  // A deterministic random schedule: three instances, requests in bursts and pauses, 20 s.
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const { clock, bucket, leases } = setup(3);
  bucket.latencyMs = 1;
  const start = clock.now;
  const admitted: number[] = [];
  let refused = 0;
  while (clock.now - start < 20_000) {
    clock.now += random() < 0.01 ? random() * 1500 : random() * 4;
    const instance = leases[Math.floor(random() * 3)]!;
    const taken = await instance.take('u', BUCKET);
    if (taken.allowed) admitted.push(clock.now);
    else refused++;
  }
  assert.ok(refused > 0, 'the schedule was over the rate at times');
  assert.ok(admitted.length > 10 * BUCKET.burst, 'the bucket refilled and was spent again, many times');
  // Every window [a, b]: admitted ≤ burst + rate × (b − a).
  for (let i = 0; i < admitted.length; i++) {
    for (let j = i; j < admitted.length; j++) {
      const allowed = BUCKET.burst + ((admitted[j]! - admitted[i]!) * 1000) / BUCKET.intervalUs;
      assert.ok(j - i + 1 <= allowed, `${j - i + 1} admitted in ${admitted[j]! - admitted[i]!} ms`);
    }
  }
  // Every admitted request spent a token taken from the bucket first.
  assert.ok(bucket.granted >= admitted.length);
});
