// The calendar (issue 17): a month grid (a week agenda on phones) of tasks by due date in the
// account's time zone, the next occurrences of repeating tasks, today marked. A task is moved
// to another day by dragging it, or from the keyboard with Shift+arrow keys on its chip; the
// time of day stays, the move goes through updateTask (with the version read, so a change made
// elsewhere meanwhile is a CONFLICT, not lost) and can be undone from the toast.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type DragEvent, type KeyboardEvent } from 'react';
import { useClient, type CombinedError } from 'urql';
import { CalendarTasksDocument, MoveTaskDocument, type CalendarTaskFragment, type CalendarTasksQuery } from '../gql/graphql';
import {
  addDays,
  addMonths,
  dayKeyOf,
  dayLabel,
  dayRange,
  groupByDay,
  monthGrid,
  monthOf,
  monthTitle,
  moveToDay,
  timeLabel,
  todayKey,
  weekDays,
  type DayKey,
} from '../lib/calendar';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { useAppEvents } from '../lib/hooks';
import { humanRule } from '../lib/recurrence';
import { ErrorBanner } from './ErrorMessage';
import { useMe } from './MeContext';
import { useToast } from './Toast';
import './Calendar.css';
import { useOfflineProps } from '../lib/offline';

/** One page of tasks due in the shown days; more is said, never silently dropped. */
export const CALENDAR_PAGE = 200;
/** Repeating series whose next occurrences are shown, and how many occurrences of each. */
export const CALENDAR_SERIES = 20;
export const CALENDAR_OCCURRENCES = 8;
/** Chips shown in a month cell before "+N more" (which opens that week). */
const CELL_CHIPS = 4;
const PHONE_QUERY = '(max-width: 640px)';
const WEEKDAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MOVE_HINT_ID = 'calendar-move-hint';

type View = 'month' | 'week';

type Entry =
  | { kind: 'task'; key: string; at: string; task: CalendarTaskFragment }
  | { kind: 'occurrence'; key: string; at: string; taskId: string; title: string; rule: string };

function usePhone(): boolean {
  return useSyncExternalStore(
    (onChange) => {
      const mq = window.matchMedia(PHONE_QUERY);
      mq.addEventListener('change', onChange);
      return () => mq.removeEventListener('change', onChange);
    },
    () => window.matchMedia(PHONE_QUERY).matches,
  );
}

const ARROW_DAYS: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };

export function CalendarPage() {
  const me = useMe();
  const tz = me.timezone;
  const client = useClient();
  const toast = useToast();
  const phone = usePhone();
  const [view, setView] = useState<View>(() => (phone ? 'week' : 'month'));
  const today = todayKey(tz);
  const [anchor, setAnchor] = useState<DayKey>(today);
  const [announcement, setAnnouncement] = useState('');
  const [dropTarget, setDropTarget] = useState<DayKey | null>(null);
  const focusAfter = useRef<{ id: string; day: DayKey } | null>(null);
  const rootRef = useRef<HTMLDivElement>(null);

  const { year, month } = monthOf(anchor);
  const weeks = useMemo(() => (view === 'month' ? monthGrid(year, month) : [weekDays(anchor)]), [view, year, month, anchor]);
  const days = weeks.flat();
  const first = days[0] ?? anchor;
  const last = days[days.length - 1] ?? anchor;
  const range = useMemo(() => dayRange(first, last, tz), [first, last, tz]);

  const variables = useMemo(
    () => ({
      dated: { dueFrom: range.from, dueTo: range.to },
      repeating: { recurring: true, status: 'OPEN' as const, dueTo: range.to },
      first: CALENDAR_PAGE,
    }),
    [range],
  );
  const [data, setData] = useState<CalendarTasksQuery | null>(null);
  const [error, setError] = useState<CombinedError | null>(null);
  const [fetching, setFetching] = useState(false);
  const offline = useOfflineProps();
  // Reads always go to the server and the last one asked for wins (not the last to arrive),
  // so a change made elsewhere during a read of other days is never shown stale.
  const seq = useRef(0);
  const load = useCallback(() => {
    const n = ++seq.current;
    setFetching(true);
    void client
      .query(CalendarTasksDocument, variables, { requestPolicy: 'network-only' })
      .toPromise()
      .then((res) => {
        if (n !== seq.current) return;
        setFetching(false);
        setError(res.error ?? null);
        if (res.data) setData(res.data);
      });
  }, [client, variables]);
  useEffect(load, [load]);

  // Changes from here, other windows and reconnects: one refetch for a burst of them.
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  useAppEvents((e) => {
    if (e.type === 'tasks-changed' || e.type === 'resync') {
      clearTimeout(timer.current);
      timer.current = setTimeout(load, 250);
    }
  });

  const byDay = useMemo(() => {
    const entries: Entry[] = [];
    for (const edge of data?.dated.edges ?? []) {
      const t = edge.node;
      if (t.dueAt) entries.push({ kind: 'task', key: t.id, at: t.dueAt, task: t });
    }
    const fromMs = Date.parse(range.from);
    const toMs = Date.parse(range.to);
    for (const edge of data?.repeating.edges ?? []) {
      const t = edge.node;
      for (const at of t.recurrence?.upcoming ?? []) {
        const ms = Date.parse(at);
        if (ms >= fromMs && ms <= toMs) {
          entries.push({ kind: 'occurrence', key: `${t.id}@${at}`, at, taskId: t.id, title: t.title, rule: t.recurrence?.rule ?? '' });
        }
      }
    }
    return groupByDay(entries, (e) => e.at, tz);
  }, [data, range, tz]);

  // After a move the chip is rendered anew in its new day: give it the focus back there (a
  // render with the old data in between must not take the request away).
  useEffect(() => {
    const want = focusAfter.current;
    if (!want) return;
    const chip = rootRef.current?.querySelector<HTMLElement>(
      `[data-day="${want.day}"] [data-calendar-task="${CSS.escape(want.id)}"]`,
    );
    if (chip) {
      focusAfter.current = null;
      chip.focus();
    }
  }, [byDay]);

  const move = useCallback(
    async (task: CalendarTaskFragment, day: DayKey): Promise<void> => {
      if (!task.dueAt || dayKeyOf(task.dueAt, tz) === day) return;
      const before = task.dueAt;
      const dueAt = moveToDay(before, day, tz);
      focusAfter.current = { id: task.id, day };
      const res = await client.mutation(MoveTaskDocument, { id: task.id, dueAt, expectedVersion: task.version }).toPromise();
      if (res.error || !res.data) {
        const err = describeError(res.error, 'task');
        toast(
          err?.code === 'CONFLICT'
            ? `“${task.title}” was changed elsewhere meanwhile, so it was not moved. The calendar now shows the latest version.`
            : (err?.message ?? 'Could not move the task.'),
          'error',
        );
        emit({ type: 'tasks-changed', taskId: task.id });
        return;
      }
      const moved = res.data.updateTask;
      const text = `Moved “${task.title}” to ${dayLabel(day)}`;
      setAnnouncement(text);
      toast(text, 'info', {
        undo: async () => {
          const back = await client.mutation(MoveTaskDocument, { id: moved.id, dueAt: before, expectedVersion: moved.version }).toPromise();
          if (back.error) toast(describeError(back.error, 'task')?.message ?? 'Could not undo the move.', 'error');
          else setAnnouncement(`Moved “${task.title}” back to ${dayLabel(dayKeyOf(before, tz))}`);
          focusAfter.current = { id: moved.id, day: dayKeyOf(before, tz) };
          emit({ type: 'tasks-changed', taskId: moved.id });
        },
      });
      emit({ type: 'tasks-changed', taskId: task.id });
    },
    [client, toast, tz],
  );

  const tasksById = useMemo(() => new Map((data?.dated.edges ?? []).map((e) => [e.node.id, e.node])), [data]);

  function onChipKey(e: KeyboardEvent<HTMLAnchorElement>, task: CalendarTaskFragment) {
    const delta = ARROW_DAYS[e.key];
    if (!e.shiftKey || delta === undefined || !task.dueAt || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    const target = addDays(dayKeyOf(task.dueAt, tz), delta);
    // Following the task out of the shown days keeps it in sight.
    if (!days.includes(target)) setAnchor(target);
    void move(task, target);
  }

  function dropProps(day: DayKey) {
    return {
      onDragOver: (e: DragEvent) => {
        if (!e.dataTransfer.types.includes('application/x-taskstream-task')) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'move';
        if (dropTarget !== day) setDropTarget(day);
      },
      onDragLeave: () => setDropTarget((d) => (d === day ? null : d)),
      onDrop: (e: DragEvent) => {
        e.preventDefault();
        setDropTarget(null);
        const task = tasksById.get(e.dataTransfer.getData('application/x-taskstream-task'));
        if (task) void move(task, day);
      },
    };
  }

  function chip(entry: Entry) {
    const time = timeLabel(entry.at, tz);
    if (entry.kind === 'occurrence') {
      return (
        <li key={entry.key} className="cal-chip cal-occurrence">
          <a href={`#/tasks/${encodeURIComponent(entry.taskId)}`} title={humanRule(entry.rule, entry.at, tz)}>
            <span className="cal-time">{time}</span> <span className="cal-title">{entry.title}</span>
            <span className="visually-hidden"> (next occurrence, {humanRule(entry.rule, entry.at, tz)})</span>
            <span aria-hidden="true" className="cal-repeat-mark">
              ↻
            </span>
          </a>
        </li>
      );
    }
    const t = entry.task;
    const done = t.status === 'DONE';
    return (
      <li key={entry.key} className={`cal-chip priority-${t.priority.toLowerCase()}${done ? ' cal-done' : ''}`}>
        <a
          href={`#/tasks/${encodeURIComponent(t.id)}`}
          data-calendar-task={t.id}
          draggable={!offline['aria-disabled']}
          aria-describedby={MOVE_HINT_ID}
          onDragStart={(e) => {
            e.dataTransfer.setData('application/x-taskstream-task', t.id);
            e.dataTransfer.effectAllowed = 'move';
          }}
          onDragEnd={() => setDropTarget(null)}
          onKeyDown={(e) => onChipKey(e, t)}
        >
          <span className="cal-time">{time}</span> <span className="cal-title">{t.title}</span>
          {done ? <span className="visually-hidden"> (done)</span> : null}
          {t.recurrence ? (
            <span className="cal-repeat-mark" aria-hidden="true">
              ↻
            </span>
          ) : null}
        </a>
      </li>
    );
  }

  function dayChips(day: DayKey, limit: number) {
    const entries = byDay.get(day) ?? [];
    const shown = entries.slice(0, limit);
    const more = entries.length - shown.length;
    return (
      <>
        {shown.length ? <ul className="cal-chips">{shown.map(chip)}</ul> : null}
        {more > 0 ? (
          <button
            type="button"
            className="link-button cal-more"
            onClick={() => {
              setAnchor(day);
              setView('week');
            }}
          >
            +{more} more<span className="visually-hidden"> on {dayLabel(day)}</span>
          </button>
        ) : null}
      </>
    );
  }

  const title = view === 'month' ? monthTitle(year, month) : `${dayLabel(first)} – ${dayLabel(last, { withYear: true })}`;
  const step = (n: number) => setAnchor(view === 'month' ? addMonths(anchor, n) : addDays(anchor, 7 * n));
  const unit = view === 'month' ? 'month' : 'week';
  const truncated = Boolean(data?.dated.pageInfo.hasNextPage);
  const seriesTruncated = Boolean(data?.repeating.pageInfo.hasNextPage);

  return (
    <div className="calendar" ref={rootRef}>
      <div className="cal-toolbar">
        <h1 id="calendar-heading">Calendar</h1>
        <div className="cal-nav">
          <button type="button" className="ghost icon-button" aria-label={`Previous ${unit}`} onClick={() => step(-1)}>
            ‹
          </button>
          <h2 className="cal-title-range" aria-live="polite">
            {title}
          </h2>
          <button type="button" className="ghost icon-button" aria-label={`Next ${unit}`} onClick={() => step(1)}>
            ›
          </button>
          <button type="button" className="ghost" onClick={() => setAnchor(today)}>
            Today
          </button>
        </div>
        <div className="cal-views" role="group" aria-label="Calendar view">
          <button type="button" aria-pressed={view === 'month'} onClick={() => setView('month')}>
            Month
          </button>
          <button type="button" aria-pressed={view === 'week'} onClick={() => setView('week')}>
            Week
          </button>
        </div>
      </div>
      <p id={MOVE_HINT_ID} className="muted cal-hint">
        Drag a task to another day, or press Shift with an arrow key to move it by a day or a week. Times are in {tz}.
      </p>
      {error && !data ? <ErrorBanner error={describeError(error)} /> : null}
      {truncated ? (
        <p className="cal-note" role="note">
          Showing the first {CALENDAR_PAGE} tasks of these days; the list view has them all.
        </p>
      ) : null}
      {seriesTruncated ? (
        <p className="cal-note" role="note">
          Next occurrences are shown for the first {CALENDAR_SERIES} repeating tasks ({CALENDAR_OCCURRENCES} each).
        </p>
      ) : null}
      <div className="visually-hidden" role="status" aria-live="polite">
        {announcement}
      </div>
      {view === 'month' ? (
        <table className="cal-month" aria-labelledby="calendar-heading" aria-busy={fetching}>
          <thead>
            <tr>
              {WEEKDAY_NAMES.map((name) => (
                <th key={name} scope="col" abbr={name}>
                  {name.slice(0, 3)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {weeks.map((week) => (
              <tr key={week[0]}>
                {week.map((day) => {
                  const outside = monthOf(day).month !== month;
                  const isToday = day === today;
                  return (
                    <td
                      key={day}
                      data-day={day}
                      className={`cal-day${outside ? ' cal-outside' : ''}${isToday ? ' cal-today' : ''}${dropTarget === day ? ' cal-drop' : ''}`}
                      aria-current={isToday ? 'date' : undefined}
                      {...dropProps(day)}
                    >
                      <div className="cal-day-head">
                        <time dateTime={day} aria-label={dayLabel(day, { long: true, withYear: true }) + (isToday ? ', today' : '')}>
                          {Number(day.slice(8))}
                        </time>
                      </div>
                      {dayChips(day, CELL_CHIPS)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <ol className="cal-week" aria-labelledby="calendar-heading" aria-busy={fetching}>
          {days.map((day) => {
            const isToday = day === today;
            const empty = !(byDay.get(day)?.length ?? 0);
            return (
              <li
                key={day}
                data-day={day}
                className={`cal-agenda-day${isToday ? ' cal-today' : ''}${dropTarget === day ? ' cal-drop' : ''}`}
                aria-current={isToday ? 'date' : undefined}
                {...dropProps(day)}
              >
                <h3>
                  <time dateTime={day}>{dayLabel(day, { long: true })}</time>
                  {isToday ? <span className="cal-today-badge">Today</span> : null}
                </h3>
                {empty ? <p className="muted cal-empty">Nothing due</p> : dayChips(day, Number.POSITIVE_INFINITY)}
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}
