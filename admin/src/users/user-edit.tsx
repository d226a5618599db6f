import { BooleanInput, Edit, SaveButton, SelectInput, SimpleForm, TextField, Toolbar } from 'react-admin';
import { roleChoices } from '../common/choices.ts';

/** Only role and disabled can change; no delete (users are disabled, not removed). */
const EditToolbar = () => (
  <Toolbar>
    <SaveButton />
  </Toolbar>
);

export function UserEdit() {
  return (
    <Edit mutationMode="pessimistic" redirect="list">
      <SimpleForm toolbar={<EditToolbar />}>
        <TextField source="email" />
        <TextField source="name" />
        <SelectInput source="role" choices={roleChoices} />
        <BooleanInput source="disabled" helperText="A disabled user's tokens stop working at once." />
      </SimpleForm>
    </Edit>
  );
}
