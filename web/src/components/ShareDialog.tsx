// Sharing a project: members and their roles, pending invitations, inviting by email, leaving.
// Only an OWNER is offered the controls that change them; everyone may read and leave.
import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import {
  ChangeMemberRoleDocument,
  InviteToProjectDocument,
  LeaveProjectDocument,
  ProjectInvitationsDocument,
  RemoveMemberDocument,
  RevokeInvitationDocument,
  type InvitationFieldsFragment,
  type ProjectFieldsFragment,
  type ProjectRole,
} from '../gql/graphql';
import { describeError, type UserError } from '../lib/errors';
import { navigate } from '../lib/hooks';
import { canManage, initials, ROLE_HELP, ROLE_LABELS } from '../lib/nav';
import { ConfirmDialog } from './ConfirmDialog';
import { ErrorBanner } from './ErrorMessage';
import { useMe } from './MeContext';
import { Modal } from './Modal';
import { useProjects, type Members } from './ProjectsContext';
import { useToast } from './Toast';
import { useOfflineProps } from '../lib/offline';

const ROLES: readonly ProjectRole[] = ['OWNER', 'EDITOR', 'VIEWER'];
export const EMAIL_MAX = 320;

/** A light check before asking the server (which has the last word). */
export function emailError(email: string): string | null {
  const e = email.trim();
  if (!e) return 'Email: enter the address to invite.';
  if (e.length > EMAIL_MAX) return `Email: at most ${EMAIL_MAX} characters.`;
  if (!/^[^\s@]+@[^\s@]+$/.test(e)) return 'Email: enter an address like name@example.com.';
  return null;
}

export function ShareDialog({ project, members, onClose }: { project: ProjectFieldsFragment; members: Members; onClose: () => void }) {
  const client = useClient();
  const toast = useToast();
  const me = useMe();
  const { upsert, drop, expectGone, invitationsVersion } = useProjects();
  const ids = useId();
  const owner = canManage(project.myRole);
  const [pending, setPending] = useState<InvitationFieldsFragment[] | null>(null);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<ProjectRole>('EDITOR');
  const [emailProblem, setEmailProblem] = useState<string | null>(null);
  const [banner, setBanner] = useState<UserError | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState<{ kind: 'remove'; userId: string; email: string } | { kind: 'leave' } | null>(null);
  const offline = useOfflineProps();

  const loadPending = useCallback(async () => {
    const res = await client.query(ProjectInvitationsDocument, { projectId: project.id }, { requestPolicy: 'network-only' }).toPromise();
    if (res.data) setPending(res.data.projectInvitations);
  }, [client, project.id]);
  useEffect(() => {
    void loadPending();
  }, [loadPending, invitationsVersion, project.version]);

  function fail(error: Parameters<typeof describeError>[0]) {
    setBanner(describeError(error, 'project'));
  }

  async function invite(e: FormEvent) {
    e.preventDefault();
    const problem = emailError(email);
    if (problem) return setEmailProblem(problem);
    setBusy(true);
    setBanner(null);
    const res = await client.mutation(InviteToProjectDocument, { projectId: project.id, email: email.trim(), role }).toPromise();
    setBusy(false);
    if (!res.data) {
      const ue = describeError(res.error, 'project');
      if (ue?.code === 'BAD_USER_INPUT' && ue.field === 'email') return setEmailProblem(ue.message);
      return setBanner(ue);
    }
    toast(`Invited ${res.data.inviteToProject.email} as ${ROLE_LABELS[role]}`);
    setEmail('');
    void loadPending();
  }

  async function revoke(inv: InvitationFieldsFragment) {
    setBusy(true);
    const res = await client.mutation(RevokeInvitationDocument, { id: inv.id }).toPromise();
    setBusy(false);
    if (res.error) return fail(res.error);
    toast(`Revoked the invitation of ${inv.email}`);
    void loadPending();
  }

  async function changeRole(userId: string, next: ProjectRole) {
    setBusy(true);
    setBanner(null);
    const res = await client.mutation(ChangeMemberRoleDocument, { projectId: project.id, userId, role: next }).toPromise();
    setBusy(false);
    if (!res.data) return fail(res.error);
    upsert(res.data.changeMemberRole);
  }

  async function removeMember(userId: string, who: string) {
    setConfirm(null);
    setBusy(true);
    const res = await client.mutation(RemoveMemberDocument, { projectId: project.id, userId }).toPromise();
    setBusy(false);
    if (!res.data) return fail(res.error);
    upsert(res.data.removeMember);
    toast(`Removed ${who} from “${project.name}”`);
  }

  async function leave() {
    setConfirm(null);
    setBusy(true);
    expectGone(project.id);
    const res = await client.mutation(LeaveProjectDocument, { projectId: project.id }).toPromise();
    setBusy(false);
    if (res.error) return fail(res.error);
    drop(project.id);
    toast(`You left “${project.name}”`);
    onClose();
    navigate('/inbox');
  }

  const owners = members.filter((m) => m.role === 'OWNER').length;
  return (
    <Modal title={`Share “${project.name}”`} onClose={onClose} className="share-dialog">
      <ErrorBanner error={banner} />
      <p className="muted small-text">
        Your role: <strong data-testid="my-role">{ROLE_LABELS[project.myRole]}</strong> ({ROLE_HELP[project.myRole]}).
      </p>
      {owner ? (
        <form className="invite-form" onSubmit={(e) => void invite(e)} noValidate aria-busy={busy}>
          <h3>Invite someone</h3>
          <div className="invite-row">
            <div className="field grow">
              <label htmlFor={`${ids}-email`}>Email</label>
              <input
                id={`${ids}-email`}
                type="email"
                value={email}
                maxLength={EMAIL_MAX}
                autoComplete="off"
                aria-invalid={emailProblem ? true : undefined}
                aria-describedby={emailProblem ? `${ids}-email-error` : undefined}
                onChange={(e) => {
                  setEmail(e.target.value);
                  setEmailProblem(null);
                }}
              />
            </div>
            <div className="field">
              <label htmlFor={`${ids}-role`}>Role</label>
              <select id={`${ids}-role`} value={role} onChange={(e) => setRole(e.target.value as ProjectRole)}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {ROLE_LABELS[r]}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" className="primary" disabled={busy} {...offline}>
              Invite
            </button>
          </div>
          {emailProblem ? (
            <p id={`${ids}-email-error`} className="field-error">
              {emailProblem}
            </p>
          ) : null}
        </form>
      ) : null}
      <h3>Members ({members.length})</h3>
      <ul className="member-list">
        {members.map((m) => {
          const self = m.user.id === me.id;
          const lastOwner = m.role === 'OWNER' && owners <= 1;
          return (
            <li key={m.user.id} data-member={m.user.email}>
              <span className="avatar" aria-hidden="true">
                {initials(m.user.email)}
              </span>
              <span className="member-email">
                {m.user.email}
                {self ? ' (you)' : ''}
              </span>
              {owner && !self ? (
                <span className="member-controls">
                  <label className="visually-hidden" htmlFor={`${ids}-role-${m.user.id}`}>
                    Role of {m.user.email}
                  </label>
                  <select
                    id={`${ids}-role-${m.user.id}`}
                    value={m.role}
                    disabled={busy || lastOwner || !!offline['aria-disabled']}
                    title={offline.title}
                    onChange={(e) => void changeRole(m.user.id, e.target.value as ProjectRole)}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {ROLE_LABELS[r]}
                      </option>
                    ))}
                  </select>
                  <button type="button" className="ghost danger" disabled={busy} onClick={() => setConfirm({ kind: 'remove', userId: m.user.id, email: m.user.email })} aria-label={`Remove ${m.user.email}`}>
                    Remove
                  </button>
                </span>
              ) : (
                <span className="member-controls">
                  <span className="badge role-badge">{ROLE_LABELS[m.role]}</span>
                </span>
              )}
            </li>
          );
        })}
      </ul>
      <h3>Pending invitations</h3>
      {pending === null ? <p className="muted">Loading…</p> : null}
      {pending && pending.length === 0 ? <p className="muted small-text">None.</p> : null}
      {pending && pending.length ? (
        <ul className="member-list">
          {pending.map((inv) => (
            <li key={inv.id} data-invitation={inv.email}>
              <span className="avatar pending" aria-hidden="true">
                {initials(inv.email)}
              </span>
              <span className="member-email">{inv.email}</span>
              <span className="member-controls">
                <span className="badge role-badge">{ROLE_LABELS[inv.role]}</span>
                {owner ? (
                  <button type="button" className="ghost" disabled={busy} onClick={() => void revoke(inv)} aria-label={`Revoke the invitation of ${inv.email}`} {...offline}>
                    Revoke
                  </button>
                ) : null}
              </span>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="modal-actions spread">
        <button type="button" className="ghost danger" disabled={busy} onClick={() => setConfirm({ kind: 'leave' })}>
          Leave project…
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Done
        </button>
      </div>
      {confirm?.kind === 'remove' ? (
        <ConfirmDialog
          title={`Remove ${confirm.email}?`}
          body={`They lose access to “${project.name}” and its tasks at once.`}
          confirmLabel="Remove"
          onConfirm={() => void removeMember(confirm.userId, confirm.email)}
          onCancel={() => setConfirm(null)}
        />
      ) : null}
      {confirm?.kind === 'leave' ? (
        <ConfirmDialog
          title={`Leave “${project.name}”?`}
          body={members.length === 1 ? 'You are its only member: leaving deletes it.' : 'You lose access to it until someone invites you again.'}
          confirmLabel="Leave"
          onConfirm={() => void leave()}
          onCancel={() => setConfirm(null)}
        />
      ) : null}
    </Modal>
  );
}
