import { useState } from "react";
import { login, register } from "../api/client";
import { ErrorBanner, Field, fieldErrors, useFormAction } from "./Form";

interface LoginProps {
  initialEmail?: string;
  notice?: string;
  onLoggedIn: () => void;
  onRegister: () => void;
  onForgot: (email: string) => void;
}

export function LoginForm({ initialEmail = "", notice, onLoggedIn, onRegister, onForgot }: LoginProps) {
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState("");
  const { error, busy, submit } = useFormAction(async () => {
    await login(email.trim(), password);
    onLoggedIn();
  });

  return (
    <section className="card narrow">
      <h1>Log in</h1>
      {notice && (
        <div className="banner info" role="status">
          {notice}
        </div>
      )}
      <ErrorBanner error={error} />
      <form id="login" onSubmit={submit}>
        <Field form="login" label="E-mail" name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Field form="login" label="Password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        <button type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
      <p className="muted">
        <button type="button" className="link" onClick={() => onForgot(email.trim())}>
          Forgot your password?
        </button>
      </p>
      <p className="muted">
        No account yet?{" "}
        <button type="button" className="link" onClick={onRegister}>
          Create one
        </button>
      </p>
    </section>
  );
}

interface RegisterProps {
  onRegistered: (email: string) => void;
  onLogin: () => void;
}

const REGISTER_FIELDS = ["email", "full_name", "password"];

export function RegisterForm({ onRegistered, onLogin }: RegisterProps) {
  const [email, setEmail] = useState("");
  const [fullName, setFullName] = useState("");
  const [password, setPassword] = useState("");
  const { error, busy, submit } = useFormAction(async () => {
    const user = await register(email.trim(), password, fullName.trim());
    onRegistered(user.email);
  });

  const errors = fieldErrors(error);
  return (
    <section className="card narrow">
      <h1>Create an account</h1>
      <ErrorBanner error={error} fields={REGISTER_FIELDS} />
      {/* noValidate: the API's own messages (422) are the ones shown. */}
      <form id="register" onSubmit={submit} noValidate>
        <Field form="register" label="E-mail" name="email" type="email" autoComplete="username" value={email} errors={errors} onChange={(e) => setEmail(e.target.value)} />
        <Field form="register" label="Full name (optional)" name="full_name" autoComplete="name" value={fullName} errors={errors} onChange={(e) => setFullName(e.target.value)} />
        <Field form="register" label="Password (at least 8 characters)" name="password" type="password" autoComplete="new-password" value={password} errors={errors} onChange={(e) => setPassword(e.target.value)} />
        <button type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create account"}
        </button>
      </form>
      <p className="muted">
        Already registered?{" "}
        <button type="button" className="link" onClick={onLogin}>
          Log in
        </button>
      </p>
    </section>
  );
}
