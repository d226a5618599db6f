import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Card from '@mui/material/Card';
import CardContent from '@mui/material/CardContent';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { Title } from 'react-admin';
import { Link } from 'react-router-dom';
import type { Queues, Stats } from '../providers/data-provider.ts';
import { ThroughputChart } from './throughput-chart.tsx';
import { useQueues, useStats } from './use-live.ts';

function CardTitle({ children }: { children: string }) {
  return (
    <Typography variant="subtitle1" sx={{ px: 2, pt: 1.5, fontWeight: 500 }}>
      {children}
    </Typography>
  );
}

const show = (n: number | null | undefined) => (n === null || n === undefined ? '—' : String(n));

function Figure({ label, value, testId, to }: { label: string; value: string; testId: string; to?: string }) {
  const number = (
    <Typography variant="h4" component="div" data-testid={testId}>
      {value}
    </Typography>
  );
  return (
    <Card variant="outlined">
      <CardContent>
        <Typography variant="overline" color="text.secondary">
          {label}
        </Typography>
        {to ? (
          <Link to={to} style={{ color: 'inherit', textDecoration: 'none' }}>
            {number}
          </Link>
        ) : (
          number
        )}
      </CardContent>
    </Card>
  );
}

function StatusCounts({
  title,
  prefix,
  counts,
  list,
}: {
  title: string;
  prefix: string;
  counts: Record<string, number>;
  list: string;
}) {
  return (
    <Card variant="outlined">
      <CardTitle>{title}</CardTitle>
      <Table size="small">
        <TableBody>
          {Object.entries(counts).map(([status, n]) => (
            <TableRow key={status}>
              <TableCell>
                <Link to={`/${list}?filter=${encodeURIComponent(JSON.stringify({ status }))}`}>{status}</Link>
              </TableCell>
              <TableCell align="right" data-testid={`${prefix}-status-${status}`}>
                {n}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Card>
  );
}

function QueueTable({ queues }: { queues: Queues | undefined }) {
  return (
    <Card variant="outlined">
      <CardTitle>Queues</CardTitle>
      {queues && !queues.connected && <Alert severity="warning">The API is not connected to RabbitMQ.</Alert>}
      <Table size="small">
        <TableHead>
          <TableRow>
            <TableCell>Queue</TableCell>
            <TableCell align="right">Ready</TableCell>
            <TableCell align="right">Unacked</TableCell>
            <TableCell align="right">Consumers</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {queues?.queues.map((q) => (
            <TableRow key={q.name} data-testid={`queue-${q.name}`}>
              <TableCell title={q.error}>{q.name}</TableCell>
              <TableCell align="right" data-testid={`queue-${q.name}-ready`}>
                {show(q.ready)}
              </TableCell>
              <TableCell align="right" title="Needs the RabbitMQ management API; see jobs processing below">
                {show(q.unacked)}
              </TableCell>
              <TableCell align="right" data-testid={`queue-${q.name}-consumers`}>
                {show(q.consumers)}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <CardContent>
        <Typography variant="body2" color="text.secondary">
          Jobs processing now: <span data-testid="in-flight-jobs">{show(queues?.in_flight_jobs)}</span>
        </Typography>
      </CardContent>
    </Card>
  );
}

/** Throughput, queue depths, DLQ size and status counts, polled every few seconds. */
export function Dashboard() {
  const stats = useStats();
  const queues = useQueues();
  const s: Stats | undefined = stats.data;
  return (
    <Box sx={{ p: 2, display: 'grid', gap: 2 }}>
      <Title title="Dashboard" />
      {stats.error && <Alert severity="error">Stats unavailable: {(stats.error as Error).message}</Alert>}
      <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: 'repeat(auto-fit, minmax(180px, 1fr))' }}>
        <Figure label="Notes" value={show(s?.notes.total)} testId="stat-notes-total" to="/notes" />
        <Figure label="Jobs" value={show(s?.jobs.total)} testId="stat-jobs-total" to="/jobs" />
        <Figure label="Dead jobs (DLQ)" value={show(s?.dlq.jobs)} testId="stat-dlq-jobs" to="/dlq" />
        <Figure label="Messages in notes.dlq" value={show(s?.dlq.messages)} testId="stat-dlq-messages" />
        <Figure
          label={`Finished / min (last ${s?.throughput.window_minutes ?? 15} min)`}
          value={show(s?.throughput.per_minute)}
          testId="stat-throughput"
        />
      </Box>
      <Card variant="outlined">
        <CardTitle>Jobs finished per minute</CardTitle>
        <CardContent>
          {s?.throughput.minutes.some((m) => m.finished > 0) ? (
            <ThroughputChart minutes={s.throughput.minutes} />
          ) : (
            <Typography color="text.secondary">
              No job finished in the last {s?.throughput.window_minutes ?? 15} minutes.
            </Typography>
          )}
        </CardContent>
      </Card>
      <QueueTable queues={queues.data} />
      <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: 'repeat(auto-fit, minmax(320px, 1fr))' }}>
        {s && <StatusCounts title="Notes by status" prefix="notes" counts={s.notes.by_status} list="notes" />}
        {s && <StatusCounts title="Jobs by status" prefix="jobs" counts={s.jobs.by_status} list="jobs" />}
      </Box>
      <Typography variant="caption" color="text.secondary" data-testid="stats-generated-at">
        {s ? `Updated ${new Date(s.generated_at).toLocaleTimeString()}` : 'Loading…'}
      </Typography>
    </Box>
  );
}
