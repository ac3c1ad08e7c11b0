import { useEffect, useId, useRef, type ReactNode } from 'react';

/** A native modal <dialog> (focus trapped, Esc closes) whose focus returns where it came from. */
export function Modal({ title, onClose, children, className }: { title: string; onClose: () => void; children: ReactNode; className?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const ids = useId();
  useEffect(() => {
    const back = document.activeElement as HTMLElement | null;
    const d = ref.current;
    if (d && typeof d.showModal === 'function' && !d.open) d.showModal();
    return () => {
      setTimeout(() => {
        if (back && back.isConnected) back.focus();
      }, 0);
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={`modal${className ? ` ${className}` : ''}`}
      aria-labelledby={`${ids}-title`}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div className="modal-head">
        <h2 id={`${ids}-title`}>{title}</h2>
        <button type="button" className="ghost icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}
