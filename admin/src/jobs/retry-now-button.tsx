import ReplayIcon from '@mui/icons-material/Replay';
import type { JobDetail } from '@notes/contracts';
import { useState } from 'react';
import { Button, useDataProvider, useNotify, useRecordContext, useRefresh } from 'react-admin';
import type { AdminDataProvider } from '../providers/data-provider.ts';

/** "Retry now": a job waiting out its backoff is tried at once (POST /api/admin/jobs/:id/retry). */
export function RetryNowButton() {
  const job = useRecordContext<JobDetail>();
  const dataProvider = useDataProvider<AdminDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  const [busy, setBusy] = useState(false);
  // Only a job waiting out its backoff (failed) can be tried now; a dead one is promoted instead.
  if (job?.status !== 'failed') return null;
  return (
    <Button
      label="Retry now"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          const res = await dataProvider.retryJob(String(job.id));
          notify(`Job ${res.id} will be tried now (${res.status}).`, { type: 'success' });
          refresh();
        } catch (err) {
          notify(`Retry failed: ${(err as Error).message}`, { type: 'error' });
        } finally {
          setBusy(false);
        }
      }}
    >
      <ReplayIcon />
    </Button>
  );
}
