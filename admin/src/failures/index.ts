import InboxIcon from '@mui/icons-material/MoveToInbox';
import { FailureList } from './failure-list.tsx';

export default { list: FailureList, icon: InboxIcon, options: { label: 'Failure inbox' } };
