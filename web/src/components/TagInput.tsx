import { useId, useState, type KeyboardEvent } from 'react';
import { useTags } from '../lib/hooks';

interface Props {
  value: string[];
  onChange: (tags: string[]) => void;
  invalid?: boolean;
  describedBy?: string;
}

/** True when an input event came from choosing a datalist option rather than typing. */
export function isSuggestionPick(ev: Event): boolean {
  const inputType = (ev as InputEvent).inputType;
  return inputType === undefined || inputType === '' || inputType === 'insertReplacementText';
}

/** Chips plus a text box with autocomplete from the user's existing tags. */
export function TagInput({ value, onChange, invalid, describedBy }: Props) {
  const ids = useId();
  const [text, setText] = useState('');
  const [{ data }] = useTags();
  const known = data?.tags ?? [];
  const has = (name: string) => value.some((v) => v.toLowerCase() === name.toLowerCase());
  const suggestions = known.filter((t) => !has(t.name) && t.name.toLowerCase().includes(text.trim().toLowerCase()));

  function add(raw: string) {
    const names = raw
      .split(',')
      .map((s) => s.trim().replace(/^#/, ''))
      .filter(Boolean);
    const next = [...value];
    for (const name of names) {
      // Reuse the existing spelling of a known tag (names are case-insensitive).
      const canonical = known.find((t) => t.name.toLowerCase() === name.toLowerCase())?.name ?? name;
      if (!next.some((v) => v.toLowerCase() === canonical.toLowerCase())) next.push(canonical);
    }
    onChange(next);
    setText('');
  }

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'Enter') {
      // Enter in the tag box adds the typed tag; it never submits the whole form.
      e.preventDefault();
      if (text.trim()) add(text);
    } else if (e.key === ',' && text.trim()) {
      e.preventDefault();
      add(text);
    } else if (e.key === 'Backspace' && !text && value.length) {
      onChange(value.slice(0, -1));
    }
  }

  return (
    <div className={`tag-input${invalid ? ' invalid' : ''}`}>
      <ul className="tag-chips" aria-label="Tags on this task">
        {value.map((tag) => (
          <li key={tag} className="tag removable">
            #{tag}
            <button type="button" className="chip-remove" aria-label={`Remove tag ${tag}`} onClick={() => onChange(value.filter((v) => v !== tag))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <input
        id={`${ids}-tag`}
        list={`${ids}-tags`}
        value={text}
        aria-label="Add a tag"
        placeholder={value.length ? 'Add another tag…' : 'Add tags, e.g. home, work'}
        aria-invalid={invalid ? true : undefined}
        aria-describedby={describedBy}
        onChange={(e) => {
          const v = e.target.value;
          // Only a pick from the suggestions adds at once: typing "work" on the way to
          // "workshop" must not commit #work. Typed text is an InputEvent "insertText";
          // a datalist pick is not.
          if (isSuggestionPick(e.nativeEvent) && known.some((t) => t.name === v)) add(v);
          else setText(v);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => text.trim() && add(text)}
        maxLength={60}
      />
      <datalist id={`${ids}-tags`}>
        {suggestions.map((t) => (
          <option key={t.id} value={t.name}>
            {t.openTaskCount} open
          </option>
        ))}
      </datalist>
    </div>
  );
}
