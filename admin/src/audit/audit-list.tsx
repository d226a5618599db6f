import { Datagrid, DateField, FunctionField, List, NumberField, SelectInput, TextField, TextInput } from 'react-admin';
import { auditActionChoices } from '../common/choices.ts';
import { ListPagination } from '../common/list-pagination.tsx';

const filters = [
  <SelectInput key="action" source="action" choices={auditActionChoices} alwaysOn />,
  <TextInput key="target" source="target" label="Target (id)" />,
];

/** Who did what to what, newest first. */
export function AuditList() {
  return (
    <List
      pagination={<ListPagination />}
      filters={filters}
      exporter={false}
      sort={{ field: 'created_at', order: 'DESC' }}
      perPage={25}
      title="Audit log"
    >
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <DateField source="created_at" label="When" showTime />
        <TextField source="actor_email" label="Who" sortable={false} />
        <TextField source="action" />
        <TextField source="target" sortable={false} emptyText="—" />
        <NumberField source="count" sortable={false} />
        <FunctionField
          label="Detail"
          render={(r: { detail: unknown }) => (
            <code style={{ fontSize: 12, whiteSpace: 'pre-wrap' }}>{r.detail ? JSON.stringify(r.detail) : ''}</code>
          )}
        />
      </Datagrid>
    </List>
  );
}
