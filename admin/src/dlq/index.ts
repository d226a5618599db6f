import DlqIcon from '@mui/icons-material/ReportProblem';
import { DlqList } from './dlq-list.tsx';

export default { list: DlqList, icon: DlqIcon, options: { label: 'Dead letters' } };
