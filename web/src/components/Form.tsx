import { useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from "react";
import { ApiError, summarise, type FieldErrors } from "../api/errors";

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  label: string;
  name: string;
  errors?: FieldErrors;
}

/** A labelled input that shows the API's 422 message for its field. */
export function Field({ label, name, errors, ...input }: FieldProps) {
  const message = errors?.[name];
  const id = `${input.form ?? "f"}-${name}`;
  return (
    <div className={message ? "field invalid" : "field"}>
      <label htmlFor={id}>{label}</label>
      <input id={id} name={name} aria-invalid={message ? true : undefined} aria-describedby={message ? `${id}-error` : undefined} {...input} />
      {message && (
        <p className="field-error" id={`${id}-error`} role="alert">
          {message}
        </p>
      )}
    </div>
  );
}

/** The form-level message: everything except 422 errors already shown beside a known field. */
export function ErrorBanner({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  if (!error) return null;
  let text: ReactNode = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError && error.status === 422) {
    text = summarise(error.fields, fields) ?? "Please correct the highlighted fields.";
  }
  return (
    <div className="banner error" role="alert" data-status={error instanceof ApiError ? error.status : undefined}>
      {text}
    </div>
  );
}

export function fieldErrors(error: unknown): FieldErrors {
  return error instanceof ApiError ? error.fields : {};
}

/** A form's submit handler: busy while `action` runs, and its error kept for the banner. */
export function useFormAction(action: () => Promise<void>) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return { error, busy, submit };
}
