import { DateField, NumberField, ReferenceField, Show, SimpleShowLayout, TextField } from 'react-admin';
import { StatusChip } from '../common/status-chip.tsx';

export function JobShow() {
  return (
    <Show>
      <SimpleShowLayout>
        <TextField source="id" />
        <ReferenceField source="note_id" reference="notes" link="show" label="Note" />
        <TextField source="kind" />
        <StatusChip source="status" label="Status" />
        <TextField source="priority" />
        <NumberField source="note_version" label="For note version" />
        <TextField source="webhook_id" emptyText="—" />
        <NumberField source="attempts" />
        <TextField source="last_error" emptyText="—" />
        <TextField source="dead_reason" emptyText="—" />
        <DateField source="created_at" showTime />
        <DateField source="started_at" showTime emptyText="—" />
        <DateField source="finished_at" showTime emptyText="—" />
      </SimpleShowLayout>
    </Show>
  );
}
