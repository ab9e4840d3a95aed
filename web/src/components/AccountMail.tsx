import { useEffect, useState } from "react";
import { ApiError } from "../api/errors";
import { confirmPasswordReset, requestPasswordReset, resendVerification, verifyEmail } from "../api/client";
import { leaveMailLink } from "../links";
import { ErrorBanner, Field, fieldErrors, useFormAction } from "./Form";

const INCOMPLETE_LINK = "This link is incomplete. Open the whole link from the mail, or ask for a new one.";

/** 400 from a link route: the token is unknown, used or expired (a malformed one is a 422 on it). */
function isDeadLink(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 400 || (error.status === 422 && "token" in error.fields));
}

function deadLinkMessage(error: unknown): string {
  return error instanceof ApiError && error.status === 400 ? error.message : "This link is not valid; ask for a new one.";
}

function DeadLink({ message }: { message: string }) {
  return (
    <div className="banner error" role="alert" data-status="400">
      {message}
    </div>
  );
}

interface ForgotProps {
  initialEmail?: string;
  onLogin: () => void;
}

const FORGOT_FIELDS = ["email"];

/** Asks for a reset link. The API answers the same for every address, so does this page. */
export function ForgotPasswordForm({ initialEmail = "", onLogin }: ForgotProps) {
  const [email, setEmail] = useState(initialEmail);
  const [sent, setSent] = useState<string | null>(null);
  const { error, busy, submit } = useFormAction(async () => {
    setSent(null);
    setSent(await requestPasswordReset(email.trim()));
  });

  const errors = fieldErrors(error);
  return (
    <section className="card narrow">
      <h1>Reset your password</h1>
      <p className="muted">Enter the e-mail address of your account: a link to choose a new password will be mailed to it.</p>
      {sent && (
        <div className="banner info" role="status">
          {sent}
        </div>
      )}
      <ErrorBanner error={error} fields={FORGOT_FIELDS} />
      <form id="forgot-password" onSubmit={submit} noValidate>
        <Field form="forgot-password" label="E-mail" name="email" type="email" autoComplete="username" value={email} errors={errors} onChange={(e) => setEmail(e.target.value)} />
        <button type="submit" disabled={busy}>
          {busy ? "Sending…" : "Send reset link"}
        </button>
      </form>
      <p className="muted">
        <button type="button" className="link" onClick={onLogin}>
          Back to log in
        </button>
      </p>
    </section>
  );
}

interface ResetProps {
  token: string;
  onReset: () => void;
  onForgot: () => void;
  onLogin: () => void;
}

const RESET_FIELDS = ["new_password"];

/** `/reset-password?token=…` from the mail: the new password, once. */
export function ResetPasswordPage({ token, onReset, onForgot, onLogin }: ResetProps) {
  const [password, setPassword] = useState("");
  const { error, busy, submit } = useFormAction(async () => {
    await confirmPasswordReset(token, password);
    leaveMailLink();
    onReset();
  });
  const dead = !token || isDeadLink(error);

  useEffect(() => {
    if (dead) leaveMailLink(); // nothing left to do with this link; a reload lands in the app
  }, [dead]);

  const errors = fieldErrors(error);
  return (
    <section className="card narrow">
      <h1>Choose a new password</h1>
      {dead ? (
        <>
          <DeadLink message={token ? deadLinkMessage(error) : INCOMPLETE_LINK} />
          <button type="button" onClick={onForgot}>
            Ask for a new link
          </button>
        </>
      ) : (
        <>
          <ErrorBanner error={error} fields={RESET_FIELDS} />
          <form id="reset-password" onSubmit={submit} noValidate>
            <Field form="reset-password" label="New password (at least 8 characters)" name="new_password" type="password" autoComplete="new-password" value={password} errors={errors} onChange={(e) => setPassword(e.target.value)} />
            <button type="submit" disabled={busy}>
              {busy ? "Saving…" : "Set new password"}
            </button>
          </form>
        </>
      )}
      <p className="muted">
        <button type="button" className="link" onClick={onLogin}>
          Back to log in
        </button>
      </p>
    </section>
  );
}

type Verification = { state: "verifying" } | { state: "verified" } | { state: "failed"; error: unknown };

/** One request per token, even when React runs the effect twice (StrictMode) or re-renders. */
const verifications = new Map<string, Promise<void>>();

function verifyOnce(token: string): Promise<void> {
  let pending = verifications.get(token);
  if (!pending) {
    pending = verifyEmail(token);
    verifications.set(token, pending);
  }
  return pending;
}

/** `/verify-email?token=…` from the mail: posts the token as the page opens. */
export function VerifyEmailPage({ token, onContinue }: { token: string; onContinue: () => void }) {
  const [result, setResult] = useState<Verification>(() =>
    token ? { state: "verifying" } : { state: "failed", error: new ApiError(400, INCOMPLETE_LINK) },
  );
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!token) {
      leaveMailLink();
      return;
    }
    let cancelled = false;
    verifyOnce(token).then(
      () => {
        leaveMailLink();
        if (!cancelled) setResult({ state: "verified" });
      },
      (error: unknown) => {
        if (isDeadLink(error)) leaveMailLink();
        else verifications.delete(token); // not spent (network, 5xx): "Try again" may resend it
        if (!cancelled) setResult({ state: "failed", error });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [token, attempt]);

  function retry() {
    setResult({ state: "verifying" });
    setAttempt((n) => n + 1);
  }

  const dead = result.state === "failed" && isDeadLink(result.error);
  return (
    <section className="card narrow">
      <h1>Confirm your e-mail address</h1>
      {result.state === "verifying" && (
        <p className="muted" role="status">
          Confirming your address…
        </p>
      )}
      {result.state === "verified" && (
        <div className="banner info" role="status">
          Your e-mail address is verified. Thank you!
        </div>
      )}
      {result.state === "failed" &&
        (dead ? (
          <>
            <DeadLink message={deadLinkMessage(result.error)} />
            <p className="muted">To get a new link, log in and choose “Resend verification e-mail”.</p>
          </>
        ) : (
          <>
            <ErrorBanner error={result.error} />
            <p>
              <button type="button" className="secondary" onClick={retry}>
                Try again
              </button>
            </p>
          </>
        ))}
      {result.state !== "verifying" && (
        <button type="button" onClick={onContinue}>
          Continue to Stockroom
        </button>
      )}
    </section>
  );
}

/** Shown to a logged-in user whose address is not verified yet. */
export function VerifyNotice({ email }: { email: string }) {
  const [message, setMessage] = useState<string | null>(null);
  const [verified, setVerified] = useState(false);
  const { error, busy, submit } = useFormAction(async () => {
    setMessage(null);
    try {
      setMessage(await resendVerification());
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        setVerified(true); // verified meanwhile (another tab, another device)
        setMessage(err.message);
        return;
      }
      throw err;
    }
  });

  return (
    <section className={verified ? "banner info verify-notice" : "banner warn verify-notice"} aria-label="E-mail verification">
      {!verified && (
        <form id="resend-verification" onSubmit={submit}>
          <span>
            Your e-mail address <strong>{email}</strong> is not verified yet: follow the link in the mail sent to it.
          </span>
          <button type="submit" className="secondary" disabled={busy}>
            {busy ? "Sending…" : "Resend verification e-mail"}
          </button>
        </form>
      )}
      {message && <p role="status">{message}</p>}
      <ErrorBanner error={error} />
    </section>
  );
}
