import { useId, useState } from 'react';
import { useTags } from '../lib/hooks';
import type { Priority, TaskSortField } from '../gql/graphql';
import {
  activeFilterCount,
  defaultFilters,
  PRIORITIES,
  PRIORITY_LABELS,
  SORT_LABELS,
  type DueWindow,
  type FilterState,
  type RecurringChoice,
  type SortChoice,
  type StatusChoice,
} from '../lib/filters';
import { Icon } from './Icon';

interface Props {
  value: FilterState;
  onChange: (next: FilterState) => void;
}

const toggle = <T,>(list: T[], item: T): T[] => (list.includes(item) ? list.filter((x) => x !== item) : [...list, item]);

export function FilterBar({ value: f, onChange }: Props) {
  const ids = useId();
  const [open, setOpen] = useState(false);
  const [{ data: tagData }] = useTags();
  const tags = tagData?.tags ?? [];
  const set = (patch: Partial<FilterState>) => onChange({ ...f, ...patch });
  const count = activeFilterCount(f);
  const searching = f.text.trim().length > 0;
  const sortOptions: SortChoice[] = ['DEFAULT', 'DUE_AT', 'PRIORITY', 'CREATED_AT', 'UPDATED_AT', 'TITLE', ...(searching ? (['RELEVANCE'] as const) : [])];

  return (
    <div className="filter-bar">
      <div className="search-row">
        <div className="search-box">
          <label htmlFor={`${ids}-search`} className="visually-hidden">
            Search tasks
          </label>
          <Icon name="search" className="search-icon" />
          <input
            id={`${ids}-search`}
            type="search"
            placeholder="Search tasks…"
            value={f.text}
            onChange={(e) => {
              const text = e.target.value;
              // Best match is the natural order while searching; drop it when the search is cleared.
              const sort = text.trim() && f.sort === 'DEFAULT' ? 'RELEVANCE' : !text.trim() && f.sort === 'RELEVANCE' ? 'DEFAULT' : f.sort;
              set({ text, sort, direction: sort === 'RELEVANCE' ? 'DESC' : sort === 'DEFAULT' ? 'ASC' : f.direction });
            }}
          />
        </div>
        <button
          type="button"
          className="filters-toggle"
          aria-expanded={open}
          aria-controls={`${ids}-filters`}
          onClick={() => setOpen((o) => !o)}
        >
          Filters{count ? ` (${count})` : ''}
        </button>
      </div>

      <div id={`${ids}-filters`} className={`filters${open ? ' open' : ''}`}>
        <div role="radiogroup" aria-label="Status" className="chip-group">
          {(['OPEN', 'DONE', 'ALL'] as StatusChoice[]).map((s) => (
            <button
              key={s}
              type="button"
              role="radio"
              aria-checked={f.status === s}
              className="chip"
              onClick={() => set({ status: s })}
            >
              {s === 'OPEN' ? 'Open' : s === 'DONE' ? 'Done' : 'All'}
            </button>
          ))}
        </div>

        <fieldset className="chip-group">
          <legend className="visually-hidden">Priority</legend>
          {PRIORITIES.filter((p) => p !== 'NONE').map((p: Priority) => (
            <button
              key={p}
              type="button"
              className={`chip prio-chip prio-${p.toLowerCase()}`}
              aria-pressed={f.priorities.includes(p)}
              onClick={() => set({ priorities: toggle(f.priorities, p) })}
            >
              {PRIORITY_LABELS[p]}
            </button>
          ))}
        </fieldset>

        <div className="chip-group">
          <button type="button" className="chip" aria-pressed={f.overdue} onClick={() => set({ overdue: !f.overdue })}>
            Overdue
          </button>
          <label className="select-chip">
            <select value={f.due} onChange={(e) => set({ due: e.target.value as DueWindow })} aria-label="Due window">
              <option value="any">Due: any time</option>
              <option value="today">Due today</option>
              <option value="next7">Due in 7 days</option>
              <option value="next30">Due in 30 days</option>
              <option value="custom">Due between…</option>
            </select>
          </label>
          <label className="select-chip">
            <select value={f.recurring} onChange={(e) => set({ recurring: e.target.value as RecurringChoice })} aria-label="Recurring">
              <option value="any">Recurring or not</option>
              <option value="yes">Recurring only</option>
              <option value="no">One-off only</option>
            </select>
          </label>
        </div>

        {f.due === 'custom' ? (
          <div className="chip-group date-range">
            <label>
              From <input type="date" value={f.dueFrom} onChange={(e) => set({ dueFrom: e.target.value })} />
            </label>
            <label>
              To <input type="date" value={f.dueTo} onChange={(e) => set({ dueTo: e.target.value })} />
            </label>
          </div>
        ) : null}

        {tags.length ? (
          <fieldset className="chip-group">
            <legend className="chip-legend">Tags</legend>
            {tags.map((t) => (
              <button
                key={t.id}
                type="button"
                className="chip tag-chip"
                aria-pressed={f.tags.includes(t.name)}
                onClick={() => set({ tags: toggle(f.tags, t.name) })}
              >
                #{t.name}
              </button>
            ))}
            {f.tags.length > 1 ? (
              <label className="select-chip">
                <select value={f.tagMode} onChange={(e) => set({ tagMode: e.target.value as 'any' | 'all' })} aria-label="Tag match">
                  <option value="any">any of these</option>
                  <option value="all">all of these</option>
                </select>
              </label>
            ) : null}
          </fieldset>
        ) : null}

        {count ? (
          <button type="button" className="link-button" onClick={() => onChange({ ...defaultFilters(), text: f.text, sort: f.sort, direction: f.direction })}>
            Clear filters
          </button>
        ) : null}
      </div>

      <div className="sort-row">
        <label htmlFor={`${ids}-sort`}>Sort by</label>
        <select
          id={`${ids}-sort`}
          value={f.sort}
          onChange={(e) => {
            const sort = e.target.value as SortChoice;
            set({ sort, direction: sort === 'RELEVANCE' || sort === 'PRIORITY' || sort === 'UPDATED_AT' || sort === 'CREATED_AT' ? 'DESC' : 'ASC' });
          }}
        >
          {sortOptions.map((s) => (
            <option key={s} value={s}>
              {SORT_LABELS[s as TaskSortField | 'DEFAULT']}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="ghost small"
          disabled={f.sort === 'DEFAULT'}
          onClick={() => set({ direction: f.direction === 'ASC' ? 'DESC' : 'ASC' })}
          // The name starts with the visible text (WCAG 2.5.3), then says what the button does.
          aria-label={`${f.direction === 'ASC' ? 'Asc' : 'Desc'}: Sort direction ${f.direction === 'ASC' ? 'ascending' : 'descending'}. Switch.`}
        >
          {f.direction === 'ASC' ? '↑ Asc' : '↓ Desc'}
        </button>
      </div>
    </div>
  );
}
