import Chip from '@mui/material/Chip';
import { useRecordContext } from 'react-admin';

type Color = 'default' | 'info' | 'warning' | 'success' | 'error' | 'secondary';

const COLORS: Record<string, Color> = {
  queued: 'default',
  processing: 'info',
  processed: 'success',
  failed: 'warning',
  dead: 'error',
  discarded: 'secondary',
  skipped: 'default',
};

/** A status as a coloured chip; `data-status` lets tests read it without parsing colours. */
export function StatusChip({ source = 'status' }: { source?: string; label?: string; sortable?: boolean }) {
  const record = useRecordContext();
  const value = record?.[source] as string | undefined;
  if (!value) return null;
  return <Chip size="small" label={value} color={COLORS[value] ?? 'default'} data-status={value} />;
}
