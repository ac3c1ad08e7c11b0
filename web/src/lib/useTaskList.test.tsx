import { act, renderHook } from '@testing-library/react';
import type { ReactNode } from 'react';
import { Provider } from 'urql';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from '../test/mockClient';
import { emit } from './events';
import { useTaskList } from './useTaskList';

const page = { data: { tasks: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] } } };

describe('useTaskList refetches', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a steady stream of live events (one every 300 ms) costs about one read a second, not one each', async () => {
    const { client, calls } = mockClient(() => page);
    const wrapper = ({ children }: { children: ReactNode }) => <Provider value={client}>{children}</Provider>;
    renderHook(() => useTaskList({ filter: null, orderBy: null } as never), { wrapper });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    const reads = () => calls.filter((c) => c.name === 'Tasks').length;
    const initial = reads();
    expect(initial).toBe(1);
    // 60 changes, 300 ms apart: 18 s. A trailing 250 ms debounce would read after every one.
    for (let i = 0; i < 60; i++) {
      act(() => emit({ type: 'tasks-changed', taskId: `t${i}` }));
      await act(async () => {
        await vi.advanceTimersByTimeAsync(300);
      });
    }
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2000);
    });
    const during = reads() - initial;
    expect(during).toBeGreaterThanOrEqual(17);
    expect(during).toBeLessThanOrEqual(20);
  });

  it('one change alone is read back within 250 ms', async () => {
    const { client, calls } = mockClient(() => page);
    const wrapper = ({ children }: { children: ReactNode }) => <Provider value={client}>{children}</Provider>;
    renderHook(() => useTaskList({ filter: null, orderBy: null } as never), { wrapper });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1500);
    });
    const before = calls.filter((c) => c.name === 'Tasks').length;
    act(() => emit({ type: 'tasks-changed', taskId: 't1' }));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(260);
    });
    expect(calls.filter((c) => c.name === 'Tasks').length).toBe(before + 1);
  });
});
