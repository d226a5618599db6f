import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import type { FailureActionResult, FailureSelection } from '@notes/contracts';
import { useDataProvider, useNotify, useRefresh } from 'react-admin';
import { Link } from 'react-router-dom';
import type { AdminDataProvider } from '../providers/data-provider.ts';

export type FailureAction = 'promote' | 'discard';

const SHOWN = 10;
const plural = (n: number) => `${n} dead job${n === 1 ? '' : 's'}`;
const VERB = { promote: 'promoted back to work', discard: 'discarded for good' } as const;

/** A dry run's answer as the confirmation dialog shows it: how many, and which (the first few). */
export function DryRunSummary({ action, result }: { action: FailureAction; result: FailureActionResult }) {
  if (result.matched === 0)
    return <Typography data-testid="dry-run-summary">Nothing matches: no job would move.</Typography>;
  const more = result.matched - Math.min(result.job_ids.length, SHOWN);
  return (
    <Stack spacing={1} data-testid="dry-run-summary">
      <Typography>
        {plural(result.matched)} would be {VERB[action]}:
      </Typography>
      <Stack component="ul" sx={{ m: 0, pl: 3 }} data-testid="dry-run-jobs">
        {result.job_ids.slice(0, SHOWN).map((id) => (
          <li key={id}>
            <Link to={`/jobs/${encodeURIComponent(id)}/show`}>{id}</Link>
          </li>
        ))}
      </Stack>
      {more > 0 ? <Typography variant="caption">… and {more} more.</Typography> : null}
    </Stack>
  );
}

/** Promote/discard from the failure inbox: a dry run for the dialog, then the action, said and refreshed. */
export function useFailureActions() {
  const dataProvider = useDataProvider<AdminDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();

  const preview = async (action: FailureAction, request: FailureSelection) => (
    <DryRunSummary action={action} result={await dataProvider.failureAction(action, { ...request, dry_run: true })} />
  );

  const run = async (action: FailureAction, request: FailureSelection) => {
    try {
      const r = await dataProvider.failureAction(action, { ...request, dry_run: false });
      const done = action === 'promote' ? (r.moved ?? r.job_ids.length) : (r.discarded ?? r.job_ids.length);
      const what = action === 'promote' ? `Promoted ${plural(done)} back to work.` : `Discarded ${plural(done)}.`;
      notify(what, { type: done > 0 ? 'success' : 'warning' });
    } catch (err) {
      notify(`${action === 'promote' ? 'Promote' : 'Discard'} failed: ${(err as Error).message}`, { type: 'error' });
    }
    refresh();
  };

  return { preview, run };
}
