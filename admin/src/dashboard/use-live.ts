import { useQuery } from '@tanstack/react-query';
import { useDataProvider } from 'react-admin';
import type { AdminDataProvider } from '../providers/data-provider.ts';

/** How often the dashboard asks again; short polling keeps it live without SSE for admins. */
export const REFRESH_MS = 3000;

export function useStats() {
  const dp = useDataProvider<AdminDataProvider>();
  return useQuery({ queryKey: ['admin', 'stats'], queryFn: () => dp.getStats(), refetchInterval: REFRESH_MS });
}

export function useQueues() {
  const dp = useDataProvider<AdminDataProvider>();
  return useQuery({ queryKey: ['admin', 'queues'], queryFn: () => dp.getQueues(), refetchInterval: REFRESH_MS });
}
