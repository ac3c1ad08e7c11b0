import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { blockDisabledControls, OFFLINE_REASON, useOfflineProps } from './offline';

function setOnline(online: boolean) {
  Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => online });
  act(() => {
    window.dispatchEvent(new Event(online ? 'online' : 'offline'));
  });
}

function Controls({ onSave, onSubmit }: { onSave: () => void; onSubmit: () => void }) {
  const offline = useOfflineProps();
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      <input aria-label="Title" readOnly={offline['aria-disabled']} {...offline} />
      <button type="button" onClick={onSave} {...offline}>
        Save
      </button>
      <button type="submit" {...offline}>
        Add
      </button>
    </form>
  );
}

describe('offline controls', () => {
  let unblock: () => void;
  beforeEach(() => {
    unblock = blockDisabledControls();
  });
  afterEach(() => {
    unblock();
    setOnline(true);
  });

  it('are aria-disabled with the reason as their description while offline, and act again online', () => {
    const onSave = vi.fn();
    const onSubmit = vi.fn();
    render(<Controls onSave={onSave} onSubmit={onSubmit} />);
    const save = screen.getByRole('button', { name: 'Save' });
    expect(save.getAttribute('aria-disabled')).toBeNull();

    setOnline(false);
    expect(save.getAttribute('aria-disabled')).toBe('true');
    // Still focusable (not `disabled`), so a keyboard or screen reader user reaches it and hears why.
    expect((save as HTMLButtonElement).disabled).toBe(false);
    expect(screen.getByRole('button', { name: 'Save', description: OFFLINE_REASON })).toBe(save);
    fireEvent.click(save);
    fireEvent.click(screen.getByRole('button', { name: 'Add' }));
    // Enter in the field submits its form from the field.
    const field = screen.getByRole('textbox', { name: 'Title' });
    field.focus();
    fireEvent.submit(field.closest('form')!);
    expect(onSave).not.toHaveBeenCalled();
    expect(onSubmit).not.toHaveBeenCalled();
    expect((screen.getByRole('textbox', { name: 'Title' }) as HTMLInputElement).readOnly).toBe(true);

    setOnline(true);
    expect(save.getAttribute('aria-disabled')).toBeNull();
    fireEvent.click(save);
    fireEvent.click(screen.getByRole('button', { name: 'Add' }));
    expect(onSave).toHaveBeenCalledTimes(1);
    expect(onSubmit).toHaveBeenCalledTimes(1);
  });
});
