import { Datagrid, DateField, List, NumberField, SearchInput, SelectInput, TextField, TextInput } from 'react-admin';
import { noteStatusChoices, priorityChoices } from '../common/choices.ts';
import { ListPagination } from '../common/list-pagination.tsx';
import { StatusChip } from '../common/status-chip.tsx';

const filters = [
  <SearchInput key="q" source="q" alwaysOn placeholder="Title or body" />,
  <SelectInput key="status" source="status" choices={noteStatusChoices} alwaysOn />,
  <SelectInput key="priority" source="priority" choices={priorityChoices} />,
  <TextInput key="user" source="user" label="Owner (id or email)" />,
];

/** Every user's notes; click one for its body, result and job history. */
export function NoteList() {
  return (
    <List
      pagination={<ListPagination />}
      filters={filters}
      exporter={false}
      sort={{ field: 'created_at', order: 'DESC' }}
      perPage={25}
    >
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="title" />
        <TextField source="owner_email" label="Owner" sortable={false} />
        <StatusChip source="status" label="Status" />
        <TextField source="priority" />
        <NumberField source="version" sortable={false} />
        <NumberField source="attempts" sortable={false} />
        <DateField source="created_at" showTime />
        <DateField source="processed_at" showTime sortable={false} />
      </Datagrid>
    </List>
  );
}
