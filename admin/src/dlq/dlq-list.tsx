import DeleteIcon from '@mui/icons-material/DeleteForever';
import UnarchiveIcon from '@mui/icons-material/Unarchive';
import {
  Datagrid,
  DateField,
  FilterButton,
  List,
  NumberField,
  SearchInput,
  SelectInput,
  TextField,
  TextInput,
  TopToolbar,
  useListContext,
} from 'react-admin';
import { kindChoices, priorityChoices } from '../common/choices.ts';
import { ConfirmAction } from '../common/confirm-action.tsx';
import { ListPagination } from '../common/list-pagination.tsx';
import { describePromote, useDlqActions } from './use-dlq-actions.ts';

const filters = [
  <SearchInput key="q" source="q" alwaysOn placeholder="Reason" />,
  <SelectInput key="kind" source="kind" choices={kindChoices} alwaysOn />,
  <SelectInput key="priority" source="priority" choices={priorityChoices} />,
  <TextInput key="note_id" source="note_id" label="Note id" />,
];

function PromoteSelectedButton() {
  const { selectedIds } = useListContext();
  const { promote } = useDlqActions('dlq');
  return (
    <ConfirmAction
      label="Promote"
      icon={<UnarchiveIcon />}
      title={`Promote ${selectedIds.length} dead job(s)?`}
      content="Their messages move from notes.dlq back to notes.jobs with attempts reset; the jobs become queued."
      onConfirm={async () => {
        await promote({ job_ids: selectedIds.map(String) });
      }}
    />
  );
}

function DiscardSelectedButton() {
  const { selectedIds } = useListContext();
  const { discard } = useDlqActions('dlq');
  return (
    <ConfirmAction
      label="Discard"
      color="error"
      icon={<DeleteIcon />}
      title={`Discard ${selectedIds.length} dead job(s)?`}
      content="Their messages are removed from notes.dlq for good and the jobs are marked discarded."
      onConfirm={() => discard(selectedIds, 'discarded from the admin console')}
    />
  );
}

/** "Promote all": everything the current filter shows, counted by a dry run before asking. */
function PromoteAllButton() {
  const { filterValues, total } = useListContext();
  const { promote, dryRun } = useDlqActions('dlq');
  const filter = Object.fromEntries(Object.entries(filterValues).filter(([, v]) => v !== '' && v != null));
  return (
    <ConfirmAction
      label="Promote all"
      icon={<UnarchiveIcon />}
      disabled={!total}
      title="Promote every dead job matching the filter?"
      content={async () => describePromote(await dryRun({ filter }))}
      onConfirm={async () => {
        await promote({ filter });
      }}
    />
  );
}

const Actions = () => (
  <TopToolbar>
    <FilterButton />
    <PromoteAllButton />
  </TopToolbar>
);

const BulkActions = () => (
  <>
    <PromoteSelectedButton />
    <DiscardSelectedButton />
  </>
);

/** Dead jobs with their reasons: promote back to work or discard, selected or all. */
export function DlqList() {
  return (
    <List
      pagination={<ListPagination />}
      filters={filters}
      exporter={false}
      actions={<Actions />}
      sort={{ field: 'finished_at', order: 'DESC' }}
      perPage={25}
      title="Dead-letter queue"
      empty={false}
    >
      <Datagrid rowClick={(id) => `/jobs/${id}/show`} bulkActionButtons={<BulkActions />}>
        <TextField source="id" label="Job" sortable={false} />
        <TextField source="kind" sortable={false} />
        <TextField source="priority" sortable={false} />
        <TextField source="note_title" label="Note" sortable={false} />
        <TextField source="owner_email" label="Owner" sortable={false} />
        <TextField source="reason" sortable={false} />
        <NumberField source="attempts" sortable={false} />
        <DateField source="dead_at" label="Dead since" showTime sortBy="finished_at" />
      </Datagrid>
    </List>
  );
}
