import type { AdminConsoleConfig } from '@notes/contracts/console';
import { useQuery } from '@tanstack/react-query';
import { useDataProvider } from 'react-admin';
import type { AdminDataProvider } from '../providers/data-provider.ts';

/** The server's settings for the console (GET /api/admin/config), fetched once per session. */
export function useConsoleConfig(): AdminConsoleConfig | undefined {
  const dataProvider = useDataProvider<AdminDataProvider>();
  const { data } = useQuery({
    queryKey: ['admin-console-config'],
    queryFn: () => dataProvider.consoleConfig(),
    staleTime: Number.POSITIVE_INFINITY,
  });
  return data;
}
