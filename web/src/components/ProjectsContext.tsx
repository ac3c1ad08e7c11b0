// The caller's projects and pending invitations for the whole session, kept live by the
// projectEvents subscription: the sidebar, the project view and the sharing dialog read them here.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useClient, useQuery } from 'urql';
import {
  MoveProjectDocument,
  MyInvitationsDocument,
  ProjectDetailDocument,
  ProjectEventsDocument,
  ProjectsDocument,
  type InvitationFieldsFragment,
  type ProjectDetailFragment,
  type ProjectEventKind,
  type ProjectFieldsFragment,
} from '../gql/graphql';
import { describeError, type UserError } from '../lib/errors';
import { emit } from '../lib/events';
import { navigate, useAppEvents } from '../lib/hooks';
import { applyProjectEvent, moveInList, projectNotice } from '../lib/projectEvents';

export interface ProjectsState {
  /** Every project the caller belongs to, archived ones included, in the caller's own order. */
  projects: ProjectFieldsFragment[];
  loading: boolean;
  error: UserError | null;
  invitations: InvitationFieldsFragment[];
  /** Bumped when a project's invitations change (the sharing dialog refetches). */
  invitationsVersion: number;
  /** A removal or deletion the caller should know about, until dismissed. */
  notice: string | null;
  dismissNotice: () => void;
  refresh: () => Promise<void>;
  refreshInvitations: () => Promise<void>;
  /** Applies our own change at once (the event confirms it later). */
  upsert: (p: ProjectFieldsFragment) => void;
  drop: (id: string) => void;
  /** Our own leave/delete is under way: its event brings no "removed" notice. */
  expectGone: (id: string) => void;
  /** Moves a project in the caller's order (shown at once, then re-read); the error's words, or null. */
  move: (id: string, afterId: string | null, beforeId: string | null) => Promise<string | null>;
}

const Ctx = createContext<ProjectsState | null>(null);

export function useProjects(): ProjectsState {
  const v = useContext(Ctx);
  if (!v) throw new Error('useProjects outside ProjectsProvider');
  return v;
}

/** The project with this id, or null (not a member, or not loaded yet). */
export function useProject(id: string | null): ProjectFieldsFragment | null {
  const { projects } = useProjects();
  return useMemo(() => (id ? (projects.find((p) => p.id === id) ?? null) : null), [projects, id]);
}

/** useProject for widgets also shown outside the session (alone in a test): null without a provider. */
export function useProjectIfKnown(id: string | null): ProjectFieldsFragment | null {
  const projects = useContext(Ctx)?.projects;
  return useMemo(() => (id && projects ? (projects.find((p) => p.id === id) ?? null) : null), [projects, id]);
}

export type Members = ProjectDetailFragment['members'];

/** A project's members (read one project at a time: the list would exceed the cost budget); refetched when its version moves. */
export function useProjectMembers(project: ProjectFieldsFragment): Members | null {
  const [{ data }, refetch] = useQuery({ query: ProjectDetailDocument, variables: { id: project.id }, requestPolicy: 'network-only' });
  const seen = useRef(project.version);
  useEffect(() => {
    if (seen.current === project.version) return;
    seen.current = project.version;
    refetch({ requestPolicy: 'network-only' });
  }, [project.version, refetch]);
  const detail = data?.project;
  return detail && detail.id === project.id ? detail.members : null;
}

export function ProjectsProvider({ children, currentProjectId }: { children: ReactNode; currentProjectId: string | null }) {
  const client = useClient();
  const [projects, setProjects] = useState<ProjectFieldsFragment[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<UserError | null>(null);
  const [invitations, setInvitations] = useState<InvitationFieldsFragment[]>([]);
  const [invitationsVersion, setInvitationsVersion] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const projectsRef = useRef(projects);
  projectsRef.current = projects;
  const currentRef = useRef(currentProjectId);
  currentRef.current = currentProjectId;

  const refresh = useCallback(async () => {
    const res = await client.query(ProjectsDocument, { includeArchived: true }, { requestPolicy: 'network-only' }).toPromise();
    setLoading(false);
    if (res.data) {
      // The server's order is the caller's own (moveProject), by name until they choose one.
      setProjects(res.data.projects);
      setError(null);
    } else setError(describeError(res.error));
  }, [client]);

  const refreshInvitations = useCallback(async () => {
    const res = await client.query(MyInvitationsDocument, {}, { requestPolicy: 'network-only' }).toPromise();
    if (res.data) setInvitations(res.data.myInvitations);
  }, [client]);

  useEffect(() => {
    void refresh();
    void refreshInvitations();
  }, [refresh, refreshInvitations]);

  const upsert = useCallback((p: ProjectFieldsFragment) => {
    setProjects((ps) => applyProjectEvent(ps, { kind: 'UPDATED', projectId: p.id, project: p }));
  }, []);
  const quiet = useRef(new Set<string>());
  const expectGone = useCallback((id: string) => {
    quiet.current.add(id);
  }, []);
  const drop = useCallback((id: string) => {
    quiet.current.add(id);
    setProjects((ps) => ps.filter((p) => p.id !== id));
  }, []);

  const onEvent = useCallback(
    (kind: ProjectEventKind, projectId: string, project: ProjectFieldsFragment | null) => {
      const before = projectsRef.current.find((p) => p.id === projectId) ?? null;
      setProjects((ps) => applyProjectEvent(ps, { kind, projectId, project }));
      // Where it goes in the caller's order is the server's to say: moved in another window,
      // renamed (the order is by name until the caller chooses one), or new here.
      if (kind === 'MOVED' || kind === 'UPDATED' || (!before && project)) void refresh();
      if (kind === 'INVITED') {
        if (project) setInvitationsVersion((v) => v + 1);
        else void refreshInvitations();
        return;
      }
      if (!project && before) {
        // Removed, left elsewhere, or deleted: its tasks leave every list, and a view of it closes.
        const text = quiet.current.has(projectId) ? null : projectNotice(kind, before.name);
        if (text) setNotice(text);
        if (currentRef.current === projectId) navigate('/inbox');
        emit({ type: 'resync' });
      } else if (project && before && before.myRole !== project.myRole) {
        // What rows offer depends on the role they carry: refetch them.
        emit({ type: 'resync' });
      } else if (!before && project) {
        // Joined (accepted here or in another window): its tasks join the lists.
        void refreshInvitations();
        emit({ type: 'resync' });
      }
      if (kind === 'MEMBER_ADDED' || kind === 'MEMBER_REMOVED') setInvitationsVersion((v) => v + 1);
      // A board or sectioned list of the project re-reads its sections.
      if (kind === 'SECTION_CHANGED') emit({ type: 'sections-changed', projectId });
    },
    [refresh, refreshInvitations],
  );

  const move = useCallback(
    async (id: string, afterId: string | null, beforeId: string | null): Promise<string | null> => {
      setProjects((ps) => moveInList(ps, id, afterId, beforeId));
      const res = await client.mutation(MoveProjectDocument, { id, afterId, beforeId }).toPromise();
      await refresh();
      return res.error ? (describeError(res.error, 'project')?.message ?? 'Could not move the project.') : null;
    },
    [client, refresh],
  );

  useEffect(() => {
    const sub = client.subscription(ProjectEventsDocument, {}).subscribe((res) => {
      const ev = res.data?.projectEvents;
      if (ev) onEvent(ev.kind, ev.projectId, ev.project ?? null);
    });
    return () => sub.unsubscribe();
  }, [client, onEvent]);

  // Open counts move with every task change, and the server does not replay missed events:
  // refetch (coalesced) after task changes and reconnects.
  // A burst costs one read a second at most; a change in the personal space costs none.
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const last = useRef(0);
  const resync = useRef(false);
  useEffect(() => () => clearTimeout(timer.current), []);
  useAppEvents((e) => {
    if (e.type === 'resync') resync.current = true;
    else if (e.type !== 'tasks-changed' || projectsRef.current.length === 0 || (e.task && !e.task.project)) return;
    if (timer.current !== undefined) return;
    timer.current = setTimeout(
      () => {
        timer.current = undefined;
        last.current = Date.now();
        void refresh();
        if (resync.current) void refreshInvitations();
        resync.current = false;
      },
      Math.max(300, last.current + 1000 - Date.now()),
    );
  });

  const value = useMemo<ProjectsState>(
    () => ({
      projects,
      loading,
      error,
      invitations,
      invitationsVersion,
      notice,
      dismissNotice: () => setNotice(null),
      refresh,
      refreshInvitations,
      upsert,
      drop,
      expectGone,
      move,
    }),
    [projects, loading, error, invitations, invitationsVersion, notice, refresh, refreshInvitations, upsert, drop, expectGone, move],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
