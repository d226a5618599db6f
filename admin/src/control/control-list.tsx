import PauseIcon from '@mui/icons-material/Pause';
import PlayIcon from '@mui/icons-material/PlayArrow';
import Chip from '@mui/material/Chip';
import type { ControlRow } from '@notes/contracts';
import {
  Button,
  Datagrid,
  DateField,
  FunctionField,
  List,
  TextField,
  useDataProvider,
  useNotify,
  useRecordContext,
  useRefresh,
} from 'react-admin';
import { ConfirmAction } from '../common/confirm-action.tsx';
import type { AdminDataProvider } from '../providers/data-provider.ts';

function useSetPaused() {
  const dataProvider = useDataProvider<AdminDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  return async (kind: ControlRow['kind'], paused: boolean) => {
    try {
      await dataProvider.setPaused(kind, paused);
      notify(paused ? `${kind} paused.` : `${kind} resumed.`, { type: 'success' });
    } catch (err) {
      notify(`Could not ${paused ? 'pause' : 'resume'} ${kind}: ${(err as Error).message}`, { type: 'error' });
    }
    refresh();
  };
}

/** Pause asks first (work stops within seconds and waits in RabbitMQ); resume does not. */
function PauseResume() {
  const control = useRecordContext<ControlRow>();
  const setPaused = useSetPaused();
  if (!control) return null;
  if (control.paused) {
    return (
      <Button label="Resume" onClick={() => setPaused(control.kind, false)}>
        <PlayIcon />
      </Button>
    );
  }
  return (
    <ConfirmAction
      label="Pause"
      color="warning"
      icon={<PauseIcon />}
      title={`Pause ${control.kind}?`}
      content="Every consumer stops taking this kind within about 2 seconds; its messages wait in RabbitMQ until resumed. Jobs already running finish."
      onConfirm={() => setPaused(control.kind, true)}
    />
  );
}

/** Pause and resume consumption per job kind (kept across restarts; docs/operations.md). */
export function ControlList() {
  return (
    <List exporter={false} pagination={false} title="Queue control" empty={false}>
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <TextField source="kind" sortable={false} />
        <FunctionField
          label="State"
          render={(c: ControlRow) => (
            <Chip
              size="small"
              label={c.paused ? 'paused' : 'running'}
              color={c.paused ? 'warning' : 'success'}
              data-state={c.paused ? 'paused' : 'running'}
            />
          )}
        />
        <DateField source="changed_at" label="Since" showTime emptyText="—" sortable={false} />
        <TextField source="changed_by" label="By" emptyText="—" sortable={false} />
        <PauseResume />
      </Datagrid>
    </List>
  );
}
