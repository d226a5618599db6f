import ControlIcon from '@mui/icons-material/Tune';
import { ControlList } from './control-list.tsx';

export default { list: ControlList, icon: ControlIcon, options: { label: 'Queue control' } };
