// Cursor-paged task list that stays fresh: new variables reset it, "load more" follows
// pageInfo.endCursor, and any change (ours, live events, reconnects) refetches the loaded window.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useClient } from 'urql';
import { TasksDocument, type TaskListItemFragment } from '../gql/graphql';
import { describeError, type UserError } from './errors';
import type { TaskListVariables } from './filters';
import { useAppEvents } from './hooks';

export interface TaskListState {
  tasks: TaskListItemFragment[];
  totalCount: number | null;
  hasNextPage: boolean;
  endCursor: string | null;
  loading: boolean;
  loadingMore: boolean;
  error: UserError | null;
}

const initial: TaskListState = {
  tasks: [],
  totalCount: null,
  hasNextPage: false,
  endCursor: null,
  loading: true,
  loadingMore: false,
  error: null,
};

export const MAX_PAGE = 200;

export function useTaskList(vars: TaskListVariables, pageSize = 50, refreshDelayMs = 250, minIntervalMs = 1000) {
  const client = useClient();
  const [state, setState] = useState<TaskListState>(initial);
  const stateRef = useRef(state);
  stateRef.current = state;
  const generation = useRef(0);
  const varsRef = useRef(vars);
  varsRef.current = vars;
  const key = JSON.stringify(vars);

  const fetchWindow = useCallback(
    async (mode: 'reset' | 'refresh') => {
      const gen = ++generation.current;
      const loaded = stateRef.current.tasks.length;
      const first = mode === 'refresh' ? Math.min(MAX_PAGE, Math.max(pageSize, loaded)) : pageSize;
      if (mode === 'reset') setState((s) => ({ ...s, loading: true, error: null }));
      const res = await client
        .query(TasksDocument, { ...varsRef.current, first, after: null }, { requestPolicy: 'network-only' })
        .toPromise();
      if (gen !== generation.current) return; // superseded
      if (res.data) {
        const conn = res.data.tasks;
        setState({
          tasks: conn.edges.map((e) => e.node),
          totalCount: conn.totalCount,
          hasNextPage: conn.pageInfo.hasNextPage,
          endCursor: conn.pageInfo.endCursor,
          loading: false,
          loadingMore: false,
          error: null,
        });
      } else {
        setState((s) => ({ ...s, loading: false, loadingMore: false, error: describeError(res.error) }));
      }
    },
    [client, pageSize],
  );

  useEffect(() => {
    void fetchWindow('reset');
  }, [key, fetchWindow]);

  const loadMore = useCallback(async () => {
    const s = stateRef.current;
    if (!s.hasNextPage || s.loadingMore || s.loading || !s.endCursor) return;
    const gen = generation.current;
    setState((p) => ({ ...p, loadingMore: true }));
    const res = await client
      .query(TasksDocument, { ...varsRef.current, first: pageSize, after: s.endCursor }, { requestPolicy: 'network-only' })
      .toPromise();
    if (gen !== generation.current) return;
    if (res.data) {
      const conn = res.data.tasks;
      setState((p) => {
        const seen = new Set(p.tasks.map((t) => t.id));
        return {
          ...p,
          tasks: [...p.tasks, ...conn.edges.map((e) => e.node).filter((t) => !seen.has(t.id))],
          totalCount: conn.totalCount,
          hasNextPage: conn.pageInfo.hasNextPage,
          endCursor: conn.pageInfo.endCursor,
          loadingMore: false,
        };
      });
    } else {
      setState((p) => ({ ...p, loadingMore: false, error: describeError(res.error) }));
    }
  }, [client, pageSize]);

  // Coalesce bursts of changes: a change schedules one refetch refreshDelayMs later, changes
  // meanwhile join it, and two refetches are at least minIntervalMs apart. A steady stream of
  // events (60 quick changes) then costs about one page read a second, not one per event; the
  // event itself is already applied to the list (patch/remove), so nothing waits for the read.
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const lastRefresh = useRef(0);
  const scheduleRefresh = useCallback(() => {
    if (timer.current !== undefined) return;
    const now = Date.now();
    const delay = Math.max(refreshDelayMs, lastRefresh.current + minIntervalMs - now);
    timer.current = setTimeout(() => {
      timer.current = undefined;
      lastRefresh.current = Date.now();
      void fetchWindow('refresh');
    }, delay);
  }, [fetchWindow, refreshDelayMs, minIntervalMs]);
  useEffect(() => () => clearTimeout(timer.current), []);

  /** Immediate local change (before the refetch confirms it). */
  const patch = useCallback((task: TaskListItemFragment) => {
    setState((s) => ({ ...s, tasks: s.tasks.map((t) => (t.id === task.id && t.version <= task.version ? task : t)) }));
  }, []);
  const remove = useCallback((id: string) => {
    setState((s) => {
      if (!s.tasks.some((t) => t.id === id)) return s;
      return { ...s, tasks: s.tasks.filter((t) => t.id !== id), totalCount: s.totalCount === null ? null : Math.max(0, s.totalCount - 1) };
    });
  }, []);

  useAppEvents((e) => {
    if (e.type === 'tasks-changed') {
      if (e.deleted && e.taskId) remove(e.taskId);
      else if (e.task) patch(e.task);
      scheduleRefresh();
    } else if (e.type === 'resync' || e.type === 'tags-changed') {
      scheduleRefresh();
    }
  });

  return { ...state, loadMore, refresh: () => fetchWindow('refresh'), patch, remove };
}
