import DeleteIcon from '@mui/icons-material/DeleteForever';
import UnarchiveIcon from '@mui/icons-material/Unarchive';
import Card from '@mui/material/Card';
import CardContent from '@mui/material/CardContent';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import MuiTextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { FailureFilter } from '@notes/contracts';
import { useState } from 'react';
import { JOB_KINDS } from '../common/choices.ts';
import { ConfirmAction } from '../common/confirm-action.tsx';
import { useFailureActions } from './use-failure-actions.tsx';

/** The form's text fields → the API's filter (empty fields left out). */
function toFilter(form: Record<keyof FailureFilter, string>): FailureFilter {
  const filter: FailureFilter = {};
  if (form.kind) filter.kind = form.kind as FailureFilter['kind'];
  if (form.reason.trim()) filter.reason = form.reason.trim();
  if (form.user_id.trim()) filter.user_id = form.user_id.trim();
  if (form.older_than_hours.trim()) filter.older_than_hours = Number(form.older_than_hours);
  return filter;
}

/** Promote or discard every dead job matching a filter (kind, reason text, user, age), dry run first. */
export function FilterActions() {
  const [form, setForm] = useState({ kind: '', reason: '', user_id: '', older_than_hours: '' });
  const { preview, run } = useFailureActions();
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [key]: e.target.value }));
  const request = { filter: toFilter(form) };
  const empty = Object.keys(request.filter).length === 0;
  return (
    <Card data-testid="filter-actions">
      <CardContent>
        <Typography variant="h6" gutterBottom>
          By filter
        </Typography>
        <Stack direction="row" spacing={2} sx={{ flexWrap: 'wrap', alignItems: 'center' }}>
          <MuiTextField
            select
            size="small"
            label="Kind"
            value={form.kind}
            onChange={set('kind')}
            sx={{ minWidth: 180 }}
          >
            <MenuItem value="">any</MenuItem>
            {JOB_KINDS.map((k) => (
              <MenuItem key={k} value={k}>
                {k}
              </MenuItem>
            ))}
          </MuiTextField>
          <MuiTextField size="small" label="Reason contains" value={form.reason} onChange={set('reason')} />
          <MuiTextField size="small" label="User id" value={form.user_id} onChange={set('user_id')} />
          <MuiTextField
            size="small"
            type="number"
            label="Older than (hours)"
            value={form.older_than_hours}
            onChange={set('older_than_hours')}
            slotProps={{ htmlInput: { min: 0 } }}
          />
          <ConfirmAction
            label="Promote matching"
            icon={<UnarchiveIcon />}
            disabled={empty}
            title="Promote every dead job matching the filter?"
            content={() => preview('promote', request)}
            onConfirm={() => run('promote', request)}
          />
          <ConfirmAction
            label="Discard matching"
            color="error"
            icon={<DeleteIcon />}
            disabled={empty}
            title="Discard every dead job matching the filter?"
            content={() => preview('discard', request)}
            onConfirm={() => run('discard', request)}
          />
        </Stack>
      </CardContent>
    </Card>
  );
}
