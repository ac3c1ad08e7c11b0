// Inline SVG icons (no icon font or emoji: they render the same everywhere).
const PATHS = {
  bell: 'M12 3a5 5 0 0 0-5 5v3.6l-1.6 3.2A1 1 0 0 0 6.3 16h11.4a1 1 0 0 0 .9-1.2L17 11.6V8a5 5 0 0 0-5-5zm-2 15a2 2 0 0 0 4 0',
  plus: 'M12 5v14M5 12h14',
  alarm: 'M12 21a8 8 0 1 0 0-16 8 8 0 0 0 0 16zm0-12v4l3 2M5 3 2 6m17-3 3 3',
  repeat: 'M17 2l3 3-3 3M4 11V9a4 4 0 0 1 4-4h12M7 22l-3-3 3-3m13-3v2a4 4 0 0 1-4 4H4',
  search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zm10 3-5.2-5.2',
  chevronDown: 'm6 9 6 6 6-6',
  chevronRight: 'm9 6 6 6-6 6',
  outdent: 'M21 12H9m4-4-4 4 4 4M4 5v14',
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name, size = 16, className }: { name: IconName; size?: number; className?: string }) {
  return (
    <svg
      className={`icon${className ? ` ${className}` : ''}`}
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth={2}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      <path d={PATHS[name]} />
    </svg>
  );
}
