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

export function useTaskList(vars: TaskListVariables, pageSize = 50, refreshDelayMs = 250, maxWaitMs = 1000) {
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

  // Coalesce bursts of changes: one refetch when a burst goes quiet for refreshDelayMs, and at
  // most one per maxWaitMs while it goes on (a steady stream must neither starve the list nor
  // spend the account's query-cost bucket on a page read per event).
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const burstStart = useRef<number | null>(null);
  const scheduleRefresh = useCallback(() => {
    if (timer.current) clearTimeout(timer.current);
    const now = Date.now();
    if (burstStart.current === null) burstStart.current = now;
    const delay = Math.max(0, Math.min(refreshDelayMs, burstStart.current + maxWaitMs - now));
    timer.current = setTimeout(() => {
      burstStart.current = null;
      void fetchWindow('refresh');
    }, delay);
  }, [fetchWindow, refreshDelayMs, maxWaitMs]);
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
