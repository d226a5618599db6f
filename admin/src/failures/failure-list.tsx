import DeleteIcon from '@mui/icons-material/DeleteForever';
import UnarchiveIcon from '@mui/icons-material/Unarchive';
import Stack from '@mui/material/Stack';
import type { FailureGroup } from '@notes/contracts';
import {
  Datagrid,
  DateField,
  List,
  NumberField,
  SelectInput,
  TextField,
  TopToolbar,
  useListContext,
  useRecordContext,
} from 'react-admin';
import { kindChoices } from '../common/choices.ts';
import { ConfirmAction } from '../common/confirm-action.tsx';
import { FilterActions } from './filter-actions.tsx';
import { useFailureActions } from './use-failure-actions.tsx';

const filters = [<SelectInput key="kind" source="kind" choices={kindChoices} alwaysOn />];

/** Promote or discard one group, each asking first with a dry run of what would move. */
function GroupActions() {
  const group = useRecordContext<FailureGroup>();
  const { preview, run } = useFailureActions();
  if (!group) return null;
  const request = { group_id: group.group_id };
  return (
    <Stack direction="row" spacing={1}>
      <ConfirmAction
        label="Promote"
        icon={<UnarchiveIcon />}
        title={`Promote this group (${group.count})?`}
        content={() => preview('promote', request)}
        onConfirm={() => run('promote', request)}
      />
      <ConfirmAction
        label="Discard"
        color="error"
        icon={<DeleteIcon />}
        title={`Discard this group (${group.count})?`}
        content={() => preview('discard', request)}
        onConfirm={() => run('discard', request)}
      />
    </Stack>
  );
}

/** Every dead job, of every group, gone: asked first with the dry run's count. */
function DiscardAllButton() {
  const { total } = useListContext();
  const { preview, run } = useFailureActions();
  return (
    <ConfirmAction
      label="Discard all"
      color="error"
      icon={<DeleteIcon />}
      disabled={!total}
      title="Discard every dead job?"
      content={() => preview('discard', { all: true })}
      onConfirm={() => run('discard', { all: true })}
    />
  );
}

const Actions = () => (
  <TopToolbar>
    <DiscardAllButton />
  </TopToolbar>
);

/**
 * The failure inbox: dead jobs grouped by kind and error (class + normalised message), with
 * counts and first/last seen; a group or a filter promoted or discarded as one.
 */
export function FailureList() {
  return (
    <Stack spacing={2}>
      <List
        filters={filters}
        actions={<Actions />}
        exporter={false}
        pagination={false}
        title="Failure inbox"
        empty={false}
      >
        <Datagrid bulkActionButtons={false} rowClick={false}>
          <TextField source="kind" sortable={false} />
          <TextField source="error_class" label="Error" sortable={false} />
          <TextField source="message" sortable={false} />
          <NumberField source="count" sortable={false} />
          <DateField source="first_seen" showTime sortable={false} />
          <DateField source="last_seen" showTime sortable={false} />
          <GroupActions />
        </Datagrid>
      </List>
      <FilterActions />
    </Stack>
  );
}
