import { useId } from 'react';
import type { RepeatFrom } from '../gql/graphql';
import { formatDateTime } from '../lib/datetime';
import {
  describeDraft,
  draftToRRule,
  NTH_LABELS,
  NTHS,
  PRESET_LABELS,
  validateDraft,
  WEEKDAY_LABELS,
  WEEKDAY_NAMES,
  WEEKDAYS,
  type MonthlyOn,
  type Nth,
  type Preset,
  type RecurrenceDraft,
  type Weekday,
} from '../lib/recurrence';
import type { RecurrencePreview } from '../lib/useRecurrencePreview';
import { FieldError } from './ErrorMessage';
import './RecurrenceBuilder.css';

interface Props {
  value: RecurrenceDraft;
  onChange: (d: RecurrenceDraft) => void;
  timeZone: string;
  /** Saved rule's next dates from Recurrence.upcoming (null for unsaved tasks). */
  upcoming: string[] | null;
  skipped: string[];
  /** The builder differs from what is saved. */
  changed: boolean;
  serverError?: string;
  /** Next dates of the builder's (unsaved) rule from previewRecurrence; shown when `changed`. */
  preview?: RecurrencePreview;
  /** The editor's due date ("YYYY-MM-DDTHH:mm"): the nth weekday it falls on is the default. */
  due?: string;
}

/** The nth weekday a date falls on: 10 Dec 2026 is the 2nd Thursday; the 29th to 31st are "last". */
export function nthWeekdayOf(due: string | undefined): Extract<MonthlyOn, { kind: 'weekday' }> {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(due ?? '');
  if (!m) return { kind: 'weekday', nth: 1, day: 'MO' };
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  const day = WEEKDAYS[(date.getUTCDay() + 6) % 7] ?? 'MO';
  const n = Math.ceil(date.getUTCDate() / 7);
  return { kind: 'weekday', nth: (n > 4 ? -1 : n) as Nth, day };
}

export function RecurrenceBuilder({ value: d, onChange, timeZone, upcoming, skipped, changed, serverError, preview, due }: Props) {
  const ids = useId();
  const set = (patch: Partial<RecurrenceDraft>) => onChange({ ...d, ...patch });
  const errors = validateDraft(d);
  const units = { DAILY: ['day', 'days'], WEEKDAYS: ['week', 'weeks'], WEEKLY: ['week', 'weeks'], MONTHLY: ['month', 'months'], YEARLY: ['year', 'years'], CUSTOM: ['', ''] }[d.preset];
  // "Every 1 week", "Every 2 weeks".
  const unit = d.interval === 1 ? units[0] : units[1];

  return (
    <div className="recurrence-builder">
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${ids}-preset`}>Repeats</label>
          <select id={`${ids}-preset`} value={d.preset} onChange={(e) => set({ preset: e.target.value as Preset })}>
            {(Object.keys(PRESET_LABELS) as Preset[]).map((p) => (
              <option key={p} value={p}>
                {PRESET_LABELS[p]}
              </option>
            ))}
          </select>
        </div>
        {d.preset !== 'CUSTOM' ? (
          <div className="field narrow">
            <label htmlFor={`${ids}-interval`}>Every</label>
            <div className="input-suffix">
              <input
                id={`${ids}-interval`}
                type="number"
                min={1}
                max={999}
                inputMode="numeric"
                value={Number.isFinite(d.interval) ? d.interval : ''}
                onChange={(e) => set({ interval: e.target.valueAsNumber })}
                aria-invalid={errors.interval ? true : undefined}
                aria-describedby={errors.interval ? `${ids}-interval-error` : undefined}
              />
              <span>{unit}</span>
            </div>
            <FieldError id={`${ids}-interval-error`} message={errors.interval} />
          </div>
        ) : null}
      </div>

      {d.preset === 'WEEKLY' ? (
        <fieldset className="weekday-picker">
          <legend>On</legend>
          {WEEKDAYS.map((day: Weekday) => (
            <label key={day} className="weekday">
              <input
                type="checkbox"
                checked={d.byDay.includes(day)}
                onChange={() => set({ byDay: d.byDay.includes(day) ? d.byDay.filter((x) => x !== day) : [...d.byDay, day] })}
              />
              <span>{WEEKDAY_LABELS[day]}</span>
            </label>
          ))}
          {d.byDay.length === 0 ? <p className="hint">No day chosen: repeats on the due date’s weekday.</p> : null}
        </fieldset>
      ) : null}

      {d.preset === 'MONTHLY' ? (
        <fieldset className="monthly-on">
          <legend>Day of the month</legend>
          <label className="radio">
            <input type="radio" name={`${ids}-monthly`} checked={d.monthly.kind === 'date'} onChange={() => set({ monthly: { kind: 'date' } })} />
            the due date’s day of the month
          </label>
          <label className="radio">
            <input
              type="radio"
              name={`${ids}-monthly`}
              checked={d.monthly.kind === 'weekday'}
              onChange={() => set({ monthly: nthWeekdayOf(due) })}
            />
            a weekday of the month
          </label>
          {d.monthly.kind === 'weekday' ? (
            <span className="inline-field">
              the{' '}
              <select
                aria-label="Which one in the month"
                value={d.monthly.nth}
                onChange={(e) => d.monthly.kind === 'weekday' && set({ monthly: { ...d.monthly, nth: Number(e.target.value) as Nth } })}
              >
                {NTHS.map((n) => (
                  <option key={n} value={n}>
                    {NTH_LABELS[n]}
                  </option>
                ))}
              </select>{' '}
              <select
                aria-label="Day of the week"
                value={d.monthly.day}
                onChange={(e) => d.monthly.kind === 'weekday' && set({ monthly: { ...d.monthly, day: e.target.value as Weekday } })}
              >
                {WEEKDAYS.map((w) => (
                  <option key={w} value={w}>
                    {WEEKDAY_NAMES[w]}
                  </option>
                ))}
              </select>
            </span>
          ) : null}
        </fieldset>
      ) : null}

      {d.preset !== 'CUSTOM' ? (
        <div className="field narrow">
          <label htmlFor={`${ids}-time`}>At (time of day)</label>
          <input
            id={`${ids}-time`}
            type="time"
            value={d.time}
            onChange={(e) => set({ time: e.target.value })}
            aria-invalid={errors.time ? true : undefined}
            aria-describedby={`${ids}-time-hint${errors.time ? ` ${ids}-time-error` : ''}`}
          />
          <p id={`${ids}-time-hint`} className="hint">
            Empty: the due date’s time.
          </p>
          <FieldError id={`${ids}-time-error`} message={errors.time} />
        </div>
      ) : null}

      {d.preset === 'CUSTOM' ? (
        <div className="field">
          <label htmlFor={`${ids}-custom`}>RRULE</label>
          <input
            id={`${ids}-custom`}
            value={d.custom}
            spellCheck={false}
            placeholder="FREQ=MONTHLY;BYDAY=1MO"
            onChange={(e) => set({ custom: e.target.value })}
            aria-invalid={errors.custom || serverError || preview?.error ? true : undefined}
            aria-describedby={`${ids}-custom-hint${errors.custom ? ` ${ids}-custom-error` : ''}`}
          />
          <p id={`${ids}-custom-hint`} className="hint">
            An RFC 5545 rule, at most hourly.
          </p>
          <FieldError id={`${ids}-custom-error`} message={errors.custom} />
        </div>
      ) : (
        <fieldset className="ends">
          <legend>Ends</legend>
          <label className="radio">
            <input type="radio" name={`${ids}-end`} checked={d.end.kind === 'never'} onChange={() => set({ end: { kind: 'never' } })} />
            Never
          </label>
          <label className="radio">
            <input
              type="radio"
              name={`${ids}-end`}
              checked={d.end.kind === 'count'}
              onChange={() => set({ end: { kind: 'count', count: 10 } })}
            />
            After
          </label>
          {d.end.kind === 'count' ? (
            <span className="inline-field">
              <input
                type="number"
                min={1}
                aria-label="Number of occurrences"
                value={Number.isFinite(d.end.count) ? d.end.count : ''}
                onChange={(e) => set({ end: { kind: 'count', count: e.target.valueAsNumber } })}
                aria-invalid={errors.count ? true : undefined}
              />{' '}
              times
            </span>
          ) : null}
          <label className="radio">
            <input
              type="radio"
              name={`${ids}-end`}
              checked={d.end.kind === 'until'}
              onChange={() => set({ end: { kind: 'until', date: '' } })}
            />
            On
          </label>
          {d.end.kind === 'until' ? (
            <input
              type="date"
              aria-label="Last date"
              value={d.end.date}
              onChange={(e) => set({ end: { kind: 'until', date: e.target.value } })}
              aria-invalid={errors.until ? true : undefined}
            />
          ) : null}
          <FieldError id={`${ids}-count-error`} message={errors.count ?? errors.until} />
        </fieldset>
      )}

      <fieldset className="repeat-from">
        <legend>Next date counts from</legend>
        {(['DUE_DATE', 'COMPLETION'] as RepeatFrom[]).map((rf) => (
          <label key={rf} className="radio">
            <input type="radio" name={`${ids}-from`} checked={d.repeatFrom === rf} onChange={() => set({ repeatFrom: rf })} />
            {rf === 'DUE_DATE' ? 'the due date' : 'when I complete it'}
          </label>
        ))}
      </fieldset>

      <div className="recurrence-summary">
        <p>
          <strong>{describeDraft(d)}</strong>{' '}
          <code className="rrule" data-testid="rrule">
            {draftToRRule(d, timeZone)}
          </code>
        </p>
        <FieldError id={`${ids}-server-error`} message={serverError} />
        {upcoming && !changed ? (
          <DateList id={`${ids}-next`} label="Next dates:" dates={upcoming} timeZone={timeZone} testId="upcoming" />
        ) : preview?.error ? (
          <FieldError id={`${ids}-preview-error`} message={preview.error} />
        ) : preview?.dates ? (
          <DateList
            id={`${ids}-preview`}
            label={upcoming ? 'Next dates of the changed rule (not saved yet):' : 'Next dates:'}
            dates={preview.dates}
            timeZone={timeZone}
            testId="preview-dates"
            busy={preview.pending}
          />
        ) : preview?.pending ? (
          <p className="hint" aria-live="polite">
            Finding the next dates…
          </p>
        ) : Object.keys(errors).length ? (
          <p className="hint">Fix the rule to see its next dates.</p>
        ) : null}
        {skipped.length ? (
          <p className="hint">Skipped: {skipped.map((s) => formatDateTime(s, timeZone, { withYear: true })).join('; ')}</p>
        ) : null}
      </div>
    </div>
  );
}

function DateList({
  id,
  label,
  dates,
  timeZone,
  testId,
  busy = false,
}: {
  id: string;
  label: string;
  dates: readonly string[];
  timeZone: string;
  testId: string;
  busy?: boolean;
}) {
  if (!dates.length) return <p className="hint" data-testid={testId}>{testId === 'upcoming' ? 'This is the last occurrence.' : 'The rule has no more dates.'}</p>;
  return (
    <div aria-live="polite">
      <p className="hint" id={id}>
        {label}
      </p>
      <ol className={`upcoming${busy ? ' stale' : ''}`} aria-labelledby={id} aria-busy={busy || undefined} data-testid={testId}>
        {dates.map((u) => (
          <li key={u}>{formatDateTime(u, timeZone, { withYear: true })}</li>
        ))}
      </ol>
    </div>
  );
}
