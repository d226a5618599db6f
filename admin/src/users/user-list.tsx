import {
  BooleanField,
  Datagrid,
  DateField,
  EditButton,
  List,
  NullableBooleanInput,
  SearchInput,
  SelectInput,
  TextField,
} from 'react-admin';
import { roleChoices } from '../common/choices.ts';
import { ListPagination } from '../common/list-pagination.tsx';
import { ToggleDisabledButton, ToggleRoleButton } from './user-actions.tsx';

const filters = [
  <SearchInput key="q" source="q" alwaysOn placeholder="Email or name" />,
  <SelectInput key="role" source="role" choices={roleChoices} alwaysOn />,
  <NullableBooleanInput key="disabled" source="disabled" />,
];

export function UserList() {
  return (
    <List
      pagination={<ListPagination />}
      filters={filters}
      exporter={false}
      sort={{ field: 'created_at', order: 'DESC' }}
      perPage={25}
    >
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="email" />
        <TextField source="name" />
        <TextField source="role" />
        <BooleanField source="disabled" sortable={false} />
        <DateField source="created_at" showTime />
        <ToggleRoleButton />
        <ToggleDisabledButton />
        <EditButton />
      </Datagrid>
    </List>
  );
}
