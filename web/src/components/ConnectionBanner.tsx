import { useEffect, useState } from 'react';
import { useConnectionState } from '../lib/hooks';
import { useOnline } from '../lib/offline';

/** "Offline" while the browser is (the last data, read-only); "Reconnecting…" while the live
 * socket is down; "Back online" briefly after. */
export function ConnectionBanner() {
  const state = useConnectionState();
  const online = useOnline();
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
      {!online ? (
        <div className="connection-banner offline" data-testid="offline-banner">
          You’re offline — showing your last saved data, read-only. Changes can be made again once you’re back online.
        </div>
      ) : state === 'reconnecting' ? (
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
