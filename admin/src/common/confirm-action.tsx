import { type ReactNode, useState } from 'react';
import { Button, Confirm } from 'react-admin';

export interface ConfirmActionProps {
  label: string;
  icon?: ReactNode;
  title: string;
  /** Asked when the dialog opens (e.g. a dry run's count); may be async. */
  content: ReactNode | (() => Promise<ReactNode>);
  onConfirm(): Promise<void>;
  color?: 'primary' | 'error' | 'warning';
  disabled?: boolean;
}

/** A button that asks first, then runs the action; the dialog stays busy until it is done. */
export function ConfirmAction({ label, icon, title, content, onConfirm, color, disabled }: ConfirmActionProps) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [body, setBody] = useState<ReactNode>(null);

  const openDialog = async () => {
    setOpen(true);
    if (typeof content === 'function') {
      setBody('…');
      try {
        setBody(await content());
      } catch (err) {
        setBody(`Could not prepare: ${(err as Error).message}`);
      }
    } else {
      setBody(content);
    }
  };

  return (
    <>
      <Button
        label={label}
        // Inside a clickable row, opening the dialog must not also open the row.
        onClick={(e) => {
          e.stopPropagation();
          void openDialog();
        }}
        color={color}
        disabled={disabled}
      >
        {icon as never}
      </Button>
      <Confirm
        isOpen={open}
        loading={busy}
        title={title}
        content={body}
        confirm="Confirm"
        onConfirm={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setOpen(false);
          }
        }}
        onClose={() => setOpen(false)}
      />
    </>
  );
}
