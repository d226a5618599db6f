import AuditIcon from '@mui/icons-material/History';
import { AuditList } from './audit-list.tsx';

export default { list: AuditList, icon: AuditIcon, options: { label: 'Audit log' } };
