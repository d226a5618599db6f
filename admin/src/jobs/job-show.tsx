import Typography from '@mui/material/Typography';
import type { JobDetail } from '@notes/contracts';
import {
  DateField,
  Labeled,
  NumberField,
  ReferenceField,
  Show,
  SimpleShowLayout,
  TextField,
  TopToolbar,
  useRecordContext,
} from 'react-admin';
import { StatusChip } from '../common/status-chip.tsx';
import { AttemptsTable } from './attempts-table.tsx';
import { RetryNowButton } from './retry-now-button.tsx';

function History() {
  const job = useRecordContext<JobDetail>();
  return <AttemptsTable history={job?.history ?? []} />;
}

function Payload() {
  const job = useRecordContext<JobDetail>();
  if (job?.payload === undefined) return null;
  return (
    <Typography
      component="pre"
      variant="body2"
      data-testid="job-payload"
      sx={{ m: 0, p: 1, bgcolor: 'action.hover', borderRadius: 1, overflow: 'auto', maxHeight: 320 }}
    >
      {JSON.stringify(job.payload, null, 2)}
    </Typography>
  );
}

const Actions = () => (
  <TopToolbar>
    <RetryNowButton />
  </TopToolbar>
);

/** Statuses after which nothing more happens to a job without an operator. */
const SETTLED = new Set(['processed', 'dead', 'discarded', 'skipped']);

/**
 * One job: what it is, its payload, and every attempt (GET /api/admin/jobs/:id). While the job
 * can still move (queued, processing, waiting out its backoff) the page re-reads it every 2 s,
 * so a retry's new attempt shows up without a reload.
 */
export function JobShow() {
  return (
    <Show
      actions={<Actions />}
      queryOptions={{
        refetchInterval: (query) => {
          const status = (query.state.data as JobDetail | undefined)?.status;
          return status && SETTLED.has(status) ? false : 2000;
        },
      }}
    >
      <SimpleShowLayout>
        <TextField source="id" />
        <ReferenceField source="note_id" reference="notes" link="show" label="Note" />
        <TextField source="user_id" label="User" />
        <TextField source="kind" />
        <StatusChip source="status" label="Status" />
        <TextField source="priority" />
        <NumberField source="attempts" />
        <TextField source="last_error" emptyText="—" />
        <DateField source="created_at" showTime />
        <DateField source="updated_at" showTime />
        <Labeled label="Payload" fullWidth>
          <Payload />
        </Labeled>
        <Labeled label="Attempts" fullWidth>
          <History />
        </Labeled>
      </SimpleShowLayout>
    </Show>
  );
}
