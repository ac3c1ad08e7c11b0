import { initials } from '../lib/nav';

/** The initials of the user a task is assigned to; the address is read out and shown on hover. */
export function AssigneeAvatar({ email }: { email: string }) {
  return (
    <span className="avatar assignee-avatar" title={`Assigned to ${email}`} data-testid="assignee-avatar">
      <span aria-hidden="true">{initials(email)}</span>
      <span className="visually-hidden">Assigned to {email}</span>
    </span>
  );
}
