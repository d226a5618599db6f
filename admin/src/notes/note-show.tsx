import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import type { AdminNoteDetail } from '@notes/contracts/wire';
import type { ReactNode } from 'react';
import {
  ArrayField,
  Datagrid,
  DateField,
  FunctionField,
  Labeled,
  NumberField,
  Show,
  SimpleShowLayout,
  TextField,
  useRecordContext,
} from 'react-admin';
import { Link } from 'react-router-dom';
import { StatusChip } from '../common/status-chip.tsx';

type NoteRecord = Pick<AdminNoteDetail, 'id' | 'result'>;

function Item({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack spacing={0.25}>
      <Typography variant="caption" color="text.secondary">
        {label}
      </Typography>
      <Typography variant="body2" component="div">
        {children}
      </Typography>
    </Stack>
  );
}

/** The note.process result (docs/api.md), or why there is none yet. */
function ResultPanel() {
  const note = useRecordContext<NoteRecord>();
  if (!note) return null;
  if (!note.result) return <Typography color="text.secondary">No result yet.</Typography>;
  const r = note.result;
  return (
    <Stack spacing={1.5} data-testid="note-result">
      <Stack direction="row" spacing={4}>
        <Item label="Words">
          <span data-testid="result-word-count">{r.word_count}</span>
        </Item>
        <Item label="Characters">{r.char_count}</Item>
        <Item label="Reading time (s)">{r.reading_time_seconds}</Item>
      </Stack>
      <Item label="Tags">
        <Stack direction="row" spacing={1}>
          {r.tags.length ? r.tags.map((t) => <Chip key={t} size="small" label={`#${t}`} />) : 'none'}
        </Stack>
      </Item>
      <Item label="Links">
        <Stack>{r.links.length ? r.links.map((l) => <span key={l}>{l}</span>) : 'none'}</Stack>
      </Item>
      <Item label="Checksum (SHA-256)">
        <code>{r.checksum}</code>
      </Item>
    </Stack>
  );
}

/** One note: its body, result and every job it caused (newest first). */
export function NoteShow() {
  return (
    <Show>
      <SimpleShowLayout>
        <TextField source="id" />
        <TextField source="title" />
        <TextField source="owner_email" label="Owner" />
        <StatusChip source="status" label="Status" />
        <TextField source="priority" />
        <NumberField source="version" />
        <NumberField source="attempts" />
        <TextField source="last_error" emptyText="—" />
        <DateField source="created_at" showTime />
        <DateField source="updated_at" showTime />
        <DateField source="processed_at" showTime emptyText="—" />
        <TextField source="body" sx={{ whiteSpace: 'pre-wrap' }} />
        <Labeled label="Result" fullWidth>
          <ResultPanel />
        </Labeled>
        <ArrayField source="jobs" label="Job history">
          <Datagrid bulkActionButtons={false} rowClick={false} data-testid="note-jobs">
            <FunctionField
              label="Job"
              render={(job: { id: string }) => <Link to={`/jobs/${job.id}/show`}>{job.id}</Link>}
            />
            <TextField source="kind" />
            <StatusChip source="status" label="Status" />
            <NumberField source="note_version" label="For version" />
            <NumberField source="attempts" />
            <TextField source="last_error" emptyText="—" />
            <DateField source="created_at" showTime />
            <DateField source="finished_at" showTime emptyText="—" />
          </Datagrid>
        </ArrayField>
      </SimpleShowLayout>
    </Show>
  );
}
