import { useEffect, useState } from 'react';
import { useConnectionState } from '../lib/hooks';

/** "Reconnecting…" while the live socket is down; "Back online" briefly after. */
export function ConnectionBanner() {
  const state = useConnectionState();
  const [justBack, setJustBack] = useState(false);
  const [wasDown, setWasDown] = useState(false);

  useEffect(() => {
    if (state === 'reconnecting') setWasDown(true);
    if (state === 'connected' && wasDown) {
      setWasDown(false);
      setJustBack(true);
      const t = setTimeout(() => setJustBack(false), 3000);
      return () => clearTimeout(t);
    }
    return undefined;
  }, [state, wasDown]);

  return (
    <div className="connection-region" role="status" aria-live="polite">
      {state === 'reconnecting' ? (
        <div className="connection-banner reconnecting" data-testid="connection-banner">
          <span className="spinner" aria-hidden="true" /> Live updates paused — reconnecting…
        </div>
      ) : justBack ? (
        <div className="connection-banner online" data-testid="connection-banner">
          Back online — list refreshed.
        </div>
      ) : null}
    </div>
  );
}
