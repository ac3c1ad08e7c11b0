import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from 'react';
import { dropUndo, pushUndo, runUndo } from '../lib/undo';

interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
  undoId?: number;
}

export interface ToastOptions {
  /** Offers Undo (button and Ctrl/Cmd+Z) while the toast is shown. */
  undo?: () => Promise<void>;
}

type Show = (text: string, tone?: Toast['tone'], options?: ToastOptions) => void;

const ToastContext = createContext<Show>(() => {});

export const TOAST_MS = 4000;
/** Long enough to notice the mistake and reach the button. */
export const UNDO_TOAST_MS = 10000;

export function useToast() {
  return useContext(ToastContext);
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const seq = useRef(0);
  const remove = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const show = useCallback<Show>(
    (text, tone = 'info', options = {}) => {
      const id = ++seq.current;
      const undoId = options.undo ? pushUndo(options.undo, () => remove(id)) : undefined;
      setToasts((ts) => [...ts.slice(-2), { id, text, tone, ...(undoId ? { undoId } : {}) }]);
      setTimeout(
        () => {
          if (undoId) dropUndo(undoId);
          remove(id);
        },
        undoId ? UNDO_TOAST_MS : TOAST_MS,
      );
    },
    [remove],
  );
  return (
    <ToastContext.Provider value={show}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone}`}>
            <span>{t.text}</span>
            {t.undoId ? (
              <button type="button" className="toast-action" onClick={() => void runUndo(t.undoId)} aria-keyshortcuts="Control+Z Meta+Z">
                Undo
              </button>
            ) : null}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
