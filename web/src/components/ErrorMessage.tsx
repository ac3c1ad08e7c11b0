import { forwardRef } from 'react';
import type { UserError } from '../lib/errors';

export const ErrorBanner = forwardRef<HTMLDivElement, { error: UserError | null; children?: React.ReactNode }>(
  function ErrorBanner({ error, children }, ref) {
    if (!error) return null;
    return (
      <div ref={ref} className="banner banner-error" role="alert" tabIndex={-1} data-code={error.code}>
        <p>{error.message}</p>
        {children}
      </div>
    );
  },
);

export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p id={id} className="field-error">
      {message}
    </p>
  );
}
