import UsersIcon from '@mui/icons-material/People';
import { UserEdit } from './user-edit.tsx';
import { UserList } from './user-list.tsx';

export default { list: UserList, edit: UserEdit, icon: UsersIcon, recordRepresentation: 'email' };
