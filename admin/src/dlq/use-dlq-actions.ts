import type { Identifier } from 'react-admin';
import { useDataProvider, useNotify, useRefresh, useUnselectAll } from 'react-admin';
import type { AdminDataProvider, PromoteRequest, PromoteResult } from '../providers/data-provider.ts';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What a promote did, in one sentence for the notification. */
export function describePromote(r: PromoteResult): string {
  const head = r.dry_run
    ? `${plural(r.promoted, 'dead job')} would be promoted`
    : `Promoted ${plural(r.promoted, 'dead job')} back to work`;
  const rest: string[] = [];
  if (r.skipped) rest.push(`${r.skipped} skipped`);
  if (r.missing) rest.push(`${r.missing} not found in notes.dlq`);
  return rest.length ? `${head} (${rest.join(', ')}).` : `${head}.`;
}

/**
 * Promote and discard for the DLQ and jobs lists: call the API, say what happened, refresh the
 * lists and the dashboard, clear the selection.
 */
export function useDlqActions(resource: string) {
  const dataProvider = useDataProvider<AdminDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  const unselectAll = useUnselectAll(resource);

  const promote = async (request: PromoteRequest) => {
    try {
      const result = await dataProvider.promoteDlq(request);
      notify(describePromote(result), { type: result.promoted > 0 ? 'success' : 'warning' });
      unselectAll();
      refresh();
      return result;
    } catch (err) {
      notify(`Promote failed: ${(err as Error).message}`, { type: 'error' });
      return null;
    }
  };

  const discard = async (ids: Identifier[], reason?: string) => {
    const { discarded, failed } = await dataProvider.discardDlq(ids, reason);
    const msg = `Discarded ${plural(discarded.length, 'dead job')}${failed.length ? `; ${failed.length} failed` : ''}.`;
    notify(msg, { type: failed.length ? 'warning' : 'success' });
    unselectAll();
    refresh();
  };

  const dryRun = (request: PromoteRequest) => dataProvider.promoteDlq({ ...request, dry_run: true });

  return { promote, discard, dryRun };
}
