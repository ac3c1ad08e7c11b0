// The caller's pending invitations: accept (the project joins the sidebar) or decline.
import { useState } from 'react';
import { useClient } from 'urql';
import { AcceptInvitationDocument, DeclineInvitationDocument, type InvitationFieldsFragment } from '../gql/graphql';
import { formatDateTime } from '../lib/datetime';
import { describeError, type UserError } from '../lib/errors';
import { navigate } from '../lib/hooks';
import { ROLE_HELP, ROLE_LABELS } from '../lib/nav';
import { ErrorBanner } from './ErrorMessage';
import { useMe } from './MeContext';
import { Modal } from './Modal';
import { useProjects } from './ProjectsContext';
import { useToast } from './Toast';
import { useOfflineProps } from '../lib/offline';

export function InvitationsDialog({ onClose }: { onClose: () => void }) {
  const { invitations, refreshInvitations, upsert } = useProjects();
  const client = useClient();
  const toast = useToast();
  const me = useMe();
  const [busy, setBusy] = useState<string | null>(null);
  const [banner, setBanner] = useState<UserError | null>(null);
  const offline = useOfflineProps();

  async function answer(inv: InvitationFieldsFragment, accept: boolean) {
    setBusy(inv.id);
    setBanner(null);
    if (accept) {
      const res = await client.mutation(AcceptInvitationDocument, { id: inv.id }).toPromise();
      setBusy(null);
      if (!res.data) {
        setBanner(describeError(res.error, 'project'));
        void refreshInvitations();
        return;
      }
      upsert(res.data.acceptInvitation);
      await refreshInvitations();
      toast(`You joined “${inv.projectName}” as ${ROLE_LABELS[inv.role]}`);
      onClose();
      navigate(`/projects/${encodeURIComponent(res.data.acceptInvitation.id)}`);
    } else {
      const res = await client.mutation(DeclineInvitationDocument, { id: inv.id }).toPromise();
      setBusy(null);
      if (res.error) setBanner(describeError(res.error, 'project'));
      else toast(`Declined the invitation to “${inv.projectName}”`);
      await refreshInvitations();
    }
  }

  return (
    <Modal title="Invitations" onClose={onClose} className="invitations-dialog">
      <ErrorBanner error={banner} />
      {invitations.length === 0 ? <p className="muted">No pending invitations.</p> : null}
      <ul className="invite-list">
        {invitations.map((inv) => (
          <li key={inv.id} data-invitation-id={inv.id}>
            <div>
              <strong>{inv.projectName}</strong>
              <p className="muted small-text">
                {inv.invitedBy.email} invited you as {ROLE_LABELS[inv.role]} ({ROLE_HELP[inv.role]}) ·{' '}
                {formatDateTime(inv.createdAt, me.timezone)}
              </p>
            </div>
            <div className="row-actions">
              <button type="button" className="primary" disabled={busy !== null} onClick={() => void answer(inv, true)} aria-label={`Accept the invitation to ${inv.projectName}`} {...offline}>
                Accept
              </button>
              <button type="button" className="ghost" disabled={busy !== null} onClick={() => void answer(inv, false)} aria-label={`Decline the invitation to ${inv.projectName}`} {...offline}>
                Decline
              </button>
            </div>
          </li>
        ))}
      </ul>
    </Modal>
  );
}
