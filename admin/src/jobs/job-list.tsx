import ReplayIcon from '@mui/icons-material/Replay';
import { Datagrid, DateField, List, NumberField, SelectInput, TextField, TextInput, useListContext } from 'react-admin';
import { jobStatusChoices, kindChoices, priorityChoices } from '../common/choices.ts';
import { ConfirmAction } from '../common/confirm-action.tsx';
import { ListPagination } from '../common/list-pagination.tsx';
import { StatusChip } from '../common/status-chip.tsx';
import { useDlqActions } from '../dlq/use-dlq-actions.ts';

const filters = [
  <SelectInput key="status" source="status" choices={jobStatusChoices} alwaysOn />,
  <SelectInput key="kind" source="kind" choices={kindChoices} alwaysOn />,
  <SelectInput key="priority" source="priority" choices={priorityChoices} />,
  <TextInput key="note_id" source="note_id" label="Note id" />,
  <TextInput key="q" source="q" label="Error text" />,
];

/** Retry = promote the selected jobs; only dead ones can move, the rest are reported skipped. */
function RetryButton() {
  const { selectedIds } = useListContext();
  const { promote } = useDlqActions('jobs');
  return (
    <ConfirmAction
      label="Retry"
      icon={<ReplayIcon />}
      title="Retry the selected jobs?"
      content={`The dead ones among the ${selectedIds.length} selected go back to work with their attempts reset; others are left as they are.`}
      onConfirm={async () => {
        await promote({ job_ids: selectedIds.map(String) });
      }}
    />
  );
}

/** Jobs of every user; filter by status to see what is queued, failing or dead. */
export function JobList() {
  return (
    <List
      pagination={<ListPagination />}
      filters={filters}
      exporter={false}
      sort={{ field: 'created_at', order: 'DESC' }}
      perPage={25}
    >
      <Datagrid rowClick="show" bulkActionButtons={<RetryButton />}>
        <TextField source="id" sortable={false} />
        <TextField source="kind" />
        <StatusChip source="status" label="Status" />
        <TextField source="priority" />
        <NumberField source="attempts" sortable={false} />
        <TextField source="last_error" sortable={false} emptyText="—" />
        <DateField source="created_at" showTime />
        <DateField source="finished_at" showTime emptyText="—" />
      </Datagrid>
    </List>
  );
}
