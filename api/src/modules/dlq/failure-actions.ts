import type { FailureActionResult, FailureSelection } from '@notes/contracts';
import { BadRequestError } from '../../platform/errors/index.ts';
import type { FailureInbox } from './failure-inbox.ts';
import type { Selection } from './failure-inbox-repository.ts';

/** A request body's selection; exactly one way of choosing, or a 400 naming the fields. */
export function toSelection(body: FailureSelection): Selection {
  const ways = [
    body.group_id !== undefined && 'group_id',
    body.job_ids !== undefined && 'job_ids',
    body.filter !== undefined && 'filter',
    body.all === true && 'all',
  ].filter((w): w is string => typeof w === 'string');
  if (ways.length !== 1) {
    throw new BadRequestError(
      ways.length === 0
        ? 'Choose what to act on: group_id, job_ids, filter or all: true.'
        : `Choose one way of selecting, not ${ways.join(' and ')}.`,
      { fields: ways.join(',') || 'none' },
    );
  }
  if (body.group_id !== undefined) return { groupId: body.group_id };
  if (body.job_ids !== undefined) return { jobIds: body.job_ids };
  if (body.filter !== undefined) {
    if (Object.keys(body.filter).length === 0)
      throw new BadRequestError('An empty filter selects nothing; use all: true.');
    return { filter: body.filter };
  }
  return { all: true };
}

/** The admin API's face of the failure inbox: HTTP bodies in, DTOs out. */
export class FailureActions {
  constructor(private readonly inbox: FailureInbox) {}

  groups(kind?: string) {
    return this.inbox.groups(kind);
  }

  async promote(actorId: string, body: FailureSelection): Promise<FailureActionResult> {
    const selection = toSelection(body);
    const { failed: _failed, ...result } = await this.inbox.promote(selection, {
      actorId,
      dryRun: body.dry_run ?? false,
      describe: { via: 'api', selection: body },
    });
    return result;
  }

  discard(actorId: string, body: FailureSelection): Promise<FailureActionResult> {
    return this.inbox.discard(toSelection(body), {
      actorId,
      dryRun: body.dry_run ?? false,
      describe: { via: 'api', selection: body },
    });
  }
}
