import JobsIcon from '@mui/icons-material/Work';
import { JobList } from './job-list.tsx';
import { JobShow } from './job-show.tsx';

export default { list: JobList, show: JobShow, icon: JobsIcon, recordRepresentation: 'id' };
