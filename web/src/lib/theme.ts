// Light or dark: the system's preference unless the person chose one (kept in localStorage).
export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'taskstream.theme';

export function getThemeChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export function systemPrefersDark(): boolean {
  return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: dark)').matches;
}

/** The theme in effect for a choice. */
export function resolveTheme(choice: ThemeChoice, prefersDark: boolean = systemPrefersDark()): 'light' | 'dark' {
  return choice === 'system' ? (prefersDark ? 'dark' : 'light') : choice;
}

/** Writes data-theme on <html> so the CSS variables switch. */
export function applyTheme(choice: ThemeChoice = getThemeChoice()): void {
  document.documentElement.dataset.theme = resolveTheme(choice);
  document.documentElement.style.colorScheme = resolveTheme(choice);
}

export function setThemeChoice(choice: ThemeChoice): void {
  try {
    if (choice === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  applyTheme(choice);
}
