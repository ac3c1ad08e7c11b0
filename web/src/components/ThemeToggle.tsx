import { useEffect, useState } from 'react';
import { applyTheme, getThemeChoice, resolveTheme, setThemeChoice, systemPrefersDark, type ThemeChoice } from '../lib/theme';

/** One button: switches to the other theme; the system's preference is the start. */
export function ThemeToggle() {
  const [choice, setChoice] = useState<ThemeChoice>(getThemeChoice);
  const [prefersDark, setPrefersDark] = useState(systemPrefersDark);
  useEffect(() => {
    if (typeof window.matchMedia !== 'function') return;
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    const onChange = () => {
      setPrefersDark(mq.matches);
      applyTheme();
    };
    mq.addEventListener('change', onChange);
    return () => mq.removeEventListener('change', onChange);
  }, []);
  const current = resolveTheme(choice, prefersDark);
  const next: ThemeChoice = current === 'dark' ? 'light' : 'dark';
  return (
    <button
      type="button"
      className="ghost icon-button theme-toggle"
      aria-pressed={current === 'dark'}
      aria-label="Dark theme"
      title={current === 'dark' ? 'Switch to the light theme' : 'Switch to the dark theme'}
      onClick={() => {
        // Choosing what the system already says returns to following the system.
        const value: ThemeChoice = resolveTheme('system', prefersDark) === next ? 'system' : next;
        setThemeChoice(value);
        setChoice(value);
      }}
    >
      <span aria-hidden="true">{current === 'dark' ? '☾' : '☀'}</span>
    </button>
  );
}
