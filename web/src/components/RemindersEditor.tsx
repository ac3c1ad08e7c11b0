import { useId } from 'react';
import type { Channel } from '../gql/graphql';
import { newReminder, type ReminderDraft, type ReminderUnit } from '../lib/taskForm';
import { FieldError } from './ErrorMessage';
import { Icon } from './Icon';

const CHANNELS: { value: Channel; label: string }[] = [
  { value: 'IN_APP', label: 'In app' },
  { value: 'EMAIL', label: 'Email' },
  { value: 'WEBHOOK', label: 'Webhook' },
  { value: 'PUSH', label: 'Browser push' },
];

const STATE_LABEL = { SCHEDULED: 'Scheduled', SENT: 'Sent', FAILED: 'Failed', CANCELLED: 'Cancelled' } as const;

interface Props {
  value: ReminderDraft[];
  onChange: (r: ReminderDraft[]) => void;
  hasDue: boolean;
  errors: Record<string, string>;
  onSnooze?: (id: string, minutes: number) => void;
}

export function RemindersEditor({ value, onChange, hasDue, errors, onSnooze }: Props) {
  const ids = useId();
  const update = (key: string, patch: Partial<ReminderDraft>) =>
    onChange(value.map((r) => (r.key === key ? { ...r, ...patch } : r)));

  return (
    <div className="reminders">
      {value.length === 0 ? <p className="hint">No reminders.</p> : null}
      <ol className="reminder-list">
        {value.map((r, i) => {
          const err = errors[`reminders[${i}]`] ?? errors[`reminders[${i}].beforeDue`] ?? errors[`reminders[${i}].remindAt`];
          const errId = `${ids}-${r.key}-error`;
          return (
            <li key={r.key} className="reminder" aria-label={`Reminder ${i + 1}`}>
              <div className="reminder-when">
                <label className="visually-hidden" htmlFor={`${ids}-${r.key}-mode`}>
                  Reminder {i + 1} timing
                </label>
                <select
                  id={`${ids}-${r.key}-mode`}
                  value={r.mode}
                  onChange={(e) => update(r.key, { mode: e.target.value as ReminderDraft['mode'] })}
                >
                  <option value="before">Before due</option>
                  <option value="at">At a time</option>
                </select>
                {r.mode === 'before' ? (
                  <>
                    <input
                      type="number"
                      min={0}
                      className="amount"
                      aria-label={`Reminder ${i + 1} amount`}
                      value={Number.isFinite(r.amount) ? r.amount : ''}
                      onChange={(e) => update(r.key, { amount: e.target.valueAsNumber })}
                      aria-invalid={err ? true : undefined}
                      aria-describedby={err ? errId : undefined}
                    />
                    <select
                      aria-label={`Reminder ${i + 1} unit`}
                      value={r.unit}
                      onChange={(e) => update(r.key, { unit: e.target.value as ReminderUnit })}
                    >
                      <option value="minutes">{r.amount === 1 ? 'minute' : 'minutes'} before</option>
                      <option value="hours">{r.amount === 1 ? 'hour' : 'hours'} before</option>
                      <option value="days">{r.amount === 1 ? 'day' : 'days'} before</option>
                    </select>
                  </>
                ) : (
                  <input
                    type="datetime-local"
                    aria-label={`Reminder ${i + 1} time`}
                    value={r.at}
                    onChange={(e) => update(r.key, { at: e.target.value })}
                    aria-invalid={err ? true : undefined}
                    aria-describedby={err ? errId : undefined}
                  />
                )}
              </div>
              <fieldset className="channels">
                <legend className="visually-hidden">Reminder {i + 1} channels</legend>
                {CHANNELS.map((c) => (
                  <label key={c.value} className="check">
                    <input
                      type="checkbox"
                      checked={r.channels.includes(c.value)}
                      onChange={() =>
                        update(r.key, {
                          channels: r.channels.includes(c.value) ? r.channels.filter((x) => x !== c.value) : [...r.channels, c.value],
                        })
                      }
                    />
                    {c.label}
                  </label>
                ))}
              </fieldset>
              <div className="reminder-actions">
                {r.state ? <span className={`badge state-${r.state.toLowerCase()}`}>{STATE_LABEL[r.state]}</span> : null}
                {r.id && onSnooze && r.state === 'SENT' ? (
                  <button type="button" className="ghost small" onClick={() => onSnooze(r.id as string, 60)}>
                    Snooze 1 h
                  </button>
                ) : null}
                <button
                  type="button"
                  className="ghost small danger"
                  onClick={() => onChange(value.filter((x) => x.key !== r.key))}
                  aria-label={`Remove reminder ${i + 1}`}
                >
                  Remove
                </button>
              </div>
              <FieldError id={errId} message={err} />
            </li>
          );
        })}
      </ol>
      {value.length < 10 ? (
        <button type="button" className="secondary small" onClick={() => onChange([...value, newReminder(hasDue)])}>
          <Icon name="plus" size={14} /> Add reminder
        </button>
      ) : (
        <p className="hint">At most 10 reminders.</p>
      )}
      {!hasDue && value.some((r) => r.mode === 'before') ? (
        <p className="hint warn">“Before due” reminders need a due date (or a repeat rule, which sets one).</p>
      ) : null}
    </div>
  );
}
