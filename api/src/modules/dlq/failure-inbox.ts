import { assertTopologyOf, type Config, EXCHANGES, type FailureActionResult, workRoutingKey } from '@notes/contracts';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/client.ts';
import { recordAudit } from '../admin/index.ts';
import { type DeadLetterRow, newRun, promotedCopy } from './dead-letter.ts';
import {
  clearPromoting,
  countSelection,
  discardLetters,
  finishPromotion,
  groups,
  markPromoting,
  type Selection,
  selectPage,
} from './failure-inbox-repository.ts';

/**
 * The failure inbox (docs/jobs.md): dead jobs live in the database, each with its message, so
 * promoting or discarding a selection reads the selection a page at a time and never the rest.
 *
 * A promote, per page of letters:
 *   1. the letters are marked with the new run (one UPDATE);
 *   2. their copies are published to work with confirms (attempt 1, x-notes-promoted-at = run);
 *   3. in one transaction each confirmed letter leaves the inbox and its job goes back to
 *      `queued` in the new run; a copy that was not confirmed clears its mark.
 * A crash after 2 leaves a letter marked and a copy in work: the copy's /start sees the mark and
 * completes the promotion itself. A job is never `queued` while its message is only dead, and a
 * letter never leaves the inbox before its copy is confirmed.
 */

export const PAGE = 100;
const CONFIRM_TIMEOUT_MS = 10_000;
/** How many matched ids an answer lists. */
export const LISTED_IDS = 100;

export const FAILURE_AUDIT = { promote: 'failures.promote', discard: 'failures.discard' } as const;

export interface FailureInboxDeps {
  config: Config;
  database: Database;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** A live connection to publish on (the API's, or one the CLI opened). */
  connection: () => ChannelModel;
}

export interface ActionOptions {
  actorId: string;
  dryRun?: boolean;
  /** Act on at most this many letters. */
  limit?: number;
  /** Also act on messages dead-lettered as malformed (promote only; discard always includes them). */
  includeMalformed?: boolean;
  /** Recorded with the action in the audit log. */
  describe?: Record<string, unknown>;
  /** False when the caller audits the action itself (the older /dlq routes). */
  audit?: boolean;
  /** Letters done so far, of `matched`; called after each page. */
  onProgress?: (done: number, matched: number) => void;
  signal?: AbortSignal;
}

export interface PromoteOutcome extends FailureActionResult {
  moved: number;
  /** Letters whose copy was not confirmed: they stay in the inbox. */
  failed: number;
}

export class FailureInbox {
  constructor(private readonly deps: FailureInboxDeps) {}

  private get db() {
    return this.deps.database.db;
  }

  private get writer() {
    return this.deps.database.writer;
  }

  async groups(kind?: string) {
    const rows = await groups(this.db, kind);
    return rows.map((r) => ({
      group_id: r.groupId,
      kind: r.kind ?? '',
      error_class: r.errorClass ?? '',
      message: r.message ?? '',
      count: Number(r.count),
      first_seen: toIso(r.firstSeen),
      last_seen: toIso(r.lastSeen),
    }));
  }

  async promote(selection: Selection, opts: ActionOptions): Promise<PromoteOutcome> {
    const now = new Date();
    const includeMalformed = opts.includeMalformed ?? false;
    const { matched, jobIds } = await this.#preview(selection, now, includeMalformed, opts.limit);
    const result: PromoteOutcome = { matched, moved: 0, failed: 0, dry_run: opts.dryRun ?? false, job_ids: jobIds };
    if (opts.dryRun || matched === 0) return result;

    const run = newRun(now);
    const channel = await this.#channel();
    try {
      await this.#pages(selection, now, includeMalformed, opts, async (letters) => {
        const { moved, failed } = await this.#promotePage(channel.ch, channel.returned, letters, run);
        result.moved += moved;
        result.failed += failed;
        opts.onProgress?.(result.moved + result.failed, matched);
        return moved + failed;
      });
    } finally {
      await channel.close();
    }
    if (opts.audit === false) return result;
    await recordAudit(this.writer, this.deps.logger, {
      actorId: opts.actorId,
      action: FAILURE_AUDIT.promote,
      target: targetOf(selection),
      count: result.moved,
      detail: { ...opts.describe, matched, failed: result.failed, run, job_ids: jobIds },
    });
    return result;
  }

  async discard(selection: Selection, opts: ActionOptions & { reason?: string }): Promise<FailureActionResult> {
    const now = new Date();
    const { matched, jobIds } = await this.#preview(selection, now, true, opts.limit);
    const result = { matched, discarded: 0, dry_run: opts.dryRun ?? false, job_ids: jobIds };
    if (opts.dryRun || matched === 0) return result;
    const reason = opts.reason ?? 'discarded by an operator';
    await this.#pages(selection, now, true, opts, async (letters) => {
      result.discarded += await discardLetters(this.writer, letters, reason, new Date());
      opts.onProgress?.(result.discarded, matched);
      return letters.length;
    });
    if (opts.audit === false) return result;
    await recordAudit(this.writer, this.deps.logger, {
      actorId: opts.actorId,
      action: FAILURE_AUDIT.discard,
      target: targetOf(selection),
      count: result.discarded,
      detail: { ...opts.describe, matched, reason, job_ids: jobIds },
    });
    return result;
  }

  /** How many letters the selection holds, and the first ids (for a dry run's list). */
  async #preview(selection: Selection, now: Date, includeMalformed: boolean, limit?: number) {
    const [total, first] = await Promise.all([
      countSelection(this.db, selection, now, includeMalformed),
      selectPage(this.db, selection, { afterId: null, limit: LISTED_IDS, now, includeMalformed }),
    ]);
    const matched = limit === undefined ? total : Math.min(total, limit);
    return { matched, jobIds: first.slice(0, matched).map((l) => l.jobId ?? l.id) };
  }

  /** Walks the selection a page at a time along the primary key; `act` says how many it used up. */
  async #pages(
    selection: Selection,
    now: Date,
    includeMalformed: boolean,
    opts: ActionOptions,
    act: (letters: DeadLetterRow[]) => Promise<number>,
  ): Promise<void> {
    let afterId: string | null = null;
    let left = opts.limit ?? Number.POSITIVE_INFINITY;
    while (left > 0 && !opts.signal?.aborted) {
      const limit = Math.min(PAGE, left);
      const letters = await selectPage(this.db, selection, { afterId, limit, now, includeMalformed });
      if (letters.length === 0) return;
      afterId = letters[letters.length - 1]!.id;
      left -= await act(letters);
      if (letters.length < limit) return;
    }
  }

  async #promotePage(ch: ConfirmChannel, returned: Set<string>, letters: DeadLetterRow[], run: string) {
    await markPromoting(
      this.writer,
      letters.map((l) => l.id),
      run,
    );
    const outcomes = await Promise.allSettled(letters.map((l) => publishConfirmed(ch, returned, promotedCopy(l, run))));
    const ok = letters.filter((_, i) => outcomes[i]?.status === 'fulfilled');
    const failed = letters.filter((_, i) => outcomes[i]?.status === 'rejected');
    if (failed.length > 0) {
      this.deps.logger.warn({ failed: failed.length }, 'promote: copies not confirmed; their letters stay');
      await clearPromoting(
        this.writer,
        failed.map((l) => l.id),
        run,
      );
    }
    if (ok.length > 0) await finishPromotion(this.writer, ok, run, new Date());
    return { moved: ok.length, failed: failed.length };
  }

  async #channel() {
    const ch = await this.deps.connection().createConfirmChannel();
    let broken: Error | null = null;
    ch.on('error', (err: Error) => {
      broken = err;
    });
    const returned = new Set<string>();
    ch.on('return', (msg: Message) => returned.add(String(msg.properties.messageId)));
    await assertTopologyOf(ch, this.deps.config.retryDelaysMs, this.deps.config.amqp.queueType);
    return {
      ch,
      returned,
      close: async () => {
        await ch.close().catch(() => {});
        if (broken) throw broken;
      },
    };
  }
}

/** Publishes a copy to work; resolves when confirmed and not returned as unroutable. */
export function publishConfirmed(
  ch: ConfirmChannel,
  returned: Set<string>,
  copy: ReturnType<typeof promotedCopy>,
): Promise<void> {
  const id = String(copy.options.messageId);
  returned.delete(id);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('publish not confirmed in time')), CONFIRM_TIMEOUT_MS);
    try {
      // Each kind's lane: note.process to notes.jobs, webhook.deliver to notes.webhooks.
      ch.publish(EXCHANGES.work, workRoutingKey(copy.options.type), copy.content, copy.options, (err) => {
        clearTimeout(timer);
        if (err) reject(new Error('publish nacked by the broker'));
        else if (returned.has(id)) reject(new Error('publish returned as unroutable'));
        else resolve();
      });
    } catch (err) {
      clearTimeout(timer);
      reject(err);
    }
  });
}

function targetOf(selection: Selection): string {
  if ('groupId' in selection) return `group:${selection.groupId}`;
  if ('jobIds' in selection) return selection.jobIds.length === 1 ? (selection.jobIds[0] as string) : 'selection';
  if ('filter' in selection) return 'filter';
  return 'all';
}

const toIso = (d: Date | string | null) => (d instanceof Date ? d : new Date(d ?? 0)).toISOString();
