import AdminIcon from '@mui/icons-material/AdminPanelSettings';
import BlockIcon from '@mui/icons-material/Block';
import CheckIcon from '@mui/icons-material/CheckCircle';
import PersonIcon from '@mui/icons-material/Person';
import type { AdminUser } from '@notes/contracts/wire';
import { useGetIdentity, useNotify, useRecordContext, useRefresh, useUpdate } from 'react-admin';
import { ConfirmAction } from '../common/confirm-action.tsx';

type UserRecord = AdminUser;

/** The API refuses to demote or disable yourself; the buttons don't offer it. */
function useIsSelf(user: UserRecord | undefined) {
  const { identity } = useGetIdentity();
  return !!user && identity?.id === user.id;
}

/** One PATCH, then say what changed (or the API's reason it didn't, e.g. your own account). */
function useUserPatch() {
  const [update] = useUpdate();
  const notify = useNotify();
  const refresh = useRefresh();
  return (user: UserRecord, data: Partial<UserRecord>, done: string) =>
    new Promise<void>((resolve) => {
      update(
        'users',
        { id: user.id, data, previousData: user },
        {
          mutationMode: 'pessimistic',
          onSuccess: () => {
            notify(done, { type: 'success' });
            refresh();
            resolve();
          },
          onError: (err) => {
            notify((err as Error).message, { type: 'error' });
            resolve();
          },
        },
      );
    });
}

export function ToggleRoleButton(_: { label?: string }) {
  const user = useRecordContext<UserRecord>();
  const patch = useUserPatch();
  const self = useIsSelf(user);
  if (!user || self) return null;
  const next = user.role === 'admin' ? 'user' : 'admin';
  return (
    <ConfirmAction
      label={next === 'admin' ? 'Make admin' : 'Make user'}
      icon={next === 'admin' ? <AdminIcon /> : <PersonIcon />}
      title={`Change ${user.email} to ${next}?`}
      content={next === 'admin' ? 'They will be able to use this console.' : 'They lose admin access at once.'}
      onConfirm={() => patch(user, { role: next }, `${user.email} is now ${next}.`)}
    />
  );
}

export function ToggleDisabledButton(_: { label?: string }) {
  const user = useRecordContext<UserRecord>();
  const patch = useUserPatch();
  const self = useIsSelf(user);
  if (!user || self) return null;
  const disable = !user.disabled;
  return (
    <ConfirmAction
      label={disable ? 'Disable' : 'Enable'}
      color={disable ? 'error' : 'primary'}
      icon={disable ? <BlockIcon /> : <CheckIcon />}
      title={`${disable ? 'Disable' : 'Enable'} ${user.email}?`}
      content={disable ? 'Their tokens stop working at once.' : 'They can log in again.'}
      onConfirm={() => patch(user, { disabled: disable }, `${user.email} is ${disable ? 'disabled' : 'enabled'}.`)}
    />
  );
}
