/** A row action's second step: the question, "Yes, …" and "No", in place of the button that asked. */
export function ConfirmInline({
  question,
  confirmLabel,
  onConfirm,
  onCancel,
}: {
  question: string;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <>
      <span className="muted">{question}</span>
      <button type="button" className="danger" onClick={onConfirm}>
        {confirmLabel}
      </button>
      <button type="button" className="secondary" onClick={onCancel}>
        No
      </button>
    </>
  );
}
