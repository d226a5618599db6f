import NotesIcon from '@mui/icons-material/Description';
import { NoteList } from './note-list.tsx';
import { NoteShow } from './note-show.tsx';

export default {
  list: NoteList,
  show: NoteShow,
  icon: NotesIcon,
  recordRepresentation: 'title',
};
