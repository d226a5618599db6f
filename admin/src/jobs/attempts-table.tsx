import Link from '@mui/material/Link';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import type { AttemptView } from '@notes/contracts';
import { traceUrl } from '@notes/contracts/console';
import { useConsoleConfig } from '../common/use-console-config.ts';

const time = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/**
 * Every try of a job, oldest first: when, how it ended and why; for webhooks the endpoint's
 * status and the start of its answer; a link to the trace when TRACE_URL_TEMPLATE is set.
 */
export function AttemptsTable({ history }: { history: AttemptView[] }) {
  const config = useConsoleConfig();
  if (history.length === 0) return <Typography color="text.secondary">No attempt yet.</Typography>;
  return (
    <Table size="small" data-testid="attempts">
      <TableHead>
        <TableRow>
          <TableCell>#</TableCell>
          <TableCell>Started</TableCell>
          <TableCell>Duration</TableCell>
          <TableCell>Outcome</TableCell>
          <TableCell>Error</TableCell>
          <TableCell>HTTP</TableCell>
          <TableCell>Answer (first 1 KiB)</TableCell>
          <TableCell>Trace</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {history.map((a) => {
          const href = traceUrl(config?.trace_url_template, a.trace_id);
          return (
            <TableRow key={a.number} data-testid={`attempt-${a.number}`}>
              <TableCell>{a.number}</TableCell>
              <TableCell>{time(a.started_at)}</TableCell>
              <TableCell>{a.duration_ms == null ? '—' : `${Math.round(a.duration_ms)} ms`}</TableCell>
              <TableCell data-testid="attempt-outcome">{a.outcome ?? 'running'}</TableCell>
              <TableCell data-testid="attempt-error">
                {a.error_class ? `${a.error_class}: ${a.error_message ?? ''}` : (a.error_message ?? '—')}
              </TableCell>
              <TableCell data-testid="attempt-http-status">{a.http_status ?? '—'}</TableCell>
              <TableCell>
                {a.response_excerpt ? (
                  <Typography
                    component="pre"
                    variant="caption"
                    data-testid="attempt-response"
                    sx={{ m: 0, maxWidth: 360, maxHeight: 120, overflow: 'auto', whiteSpace: 'pre-wrap' }}
                  >
                    {a.response_excerpt}
                  </Typography>
                ) : (
                  '—'
                )}
              </TableCell>
              <TableCell>
                {href ? (
                  <Link href={href} target="_blank" rel="noopener noreferrer" data-testid="attempt-trace">
                    {a.trace_id?.slice(0, 12)}…
                  </Link>
                ) : (
                  (a.trace_id ?? '—')
                )}
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}
