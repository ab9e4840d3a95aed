import { useEffect, useState } from "react";
import {
  API_URL,
  getMe,
  logout,
  restoreSession,
  setEmailVerifiedHandler,
  setSessionEndedHandler,
  type User,
} from "./api/client";
import { messageOf } from "./api/errors";
import { ForgotPasswordForm, ResetPasswordPage, VerifyEmailPage, VerifyNotice } from "./components/AccountMail";
import { LoginForm, RegisterForm } from "./components/AuthForms";
import { AccessTokens } from "./components/AccessTokens";
import { Products } from "./components/Products";
import { leaveMailLink, readMailLink } from "./links";

type View =
  | { name: "loading" }
  | { name: "login"; notice?: string; email?: string }
  | { name: "register" }
  | { name: "forgot"; email?: string }
  | { name: "reset"; token: string }
  | { name: "verify"; token: string }
  | { name: AppPage; user: User };

/** The pages of the logged-in app. */
type AppPage = "products" | "tokens";
type InApp = Extract<View, { user: User }>;

function isInApp(view: View): view is InApp {
  return view.name === "products" || view.name === "tokens";
}

/** The navigation of the logged-in app. */
const PAGES: { name: AppPage; label: string }[] = [
  { name: "products", label: "Products" },
  { name: "tokens", label: "Access tokens" },
];

/** The link from a mail the page was opened with, read once at start-up. */
const START_LINK = readMailLink();

function startView(): View {
  if (START_LINK?.kind === "reset-password") return { name: "reset", token: START_LINK.token };
  if (START_LINK?.kind === "verify-email") return { name: "verify", token: START_LINK.token };
  return { name: "loading" };
}

export default function App() {
  const [view, setView] = useState<View>(startView);
  const [logoutError, setLogoutError] = useState<string | null>(null);

  async function enter() {
    try {
      setView({ name: "products", user: await getMe() });
    } catch (err) {
      setView({ name: "login", notice: messageOf(err) });
    }
  }

  /** Back into the app from a mail link's page: the session this browser has, or log in. */
  async function resume() {
    setView({ name: "loading" });
    try {
      if (await restoreSession()) await enter();
      else setView({ name: "login" });
    } catch (err) {
      setView({ name: "login", notice: messageOf(err) });
    }
  }

  useEffect(() => {
    setSessionEndedHandler((reason) => setView({ name: "login", notice: reason }));
    // Another tab followed a verification link: the notice here goes once /users/me agrees.
    setEmailVerifiedHandler(() => {
      getMe().then(
        (user) => setView((current) => (isInApp(current) ? { ...current, user } : current)),
        () => {},
      );
    });
    if (START_LINK) return; // the link's page comes first; it calls resume() or shows log in
    let cancelled = false;
    restoreSession()
      .then((ok) => {
        if (cancelled) return;
        if (ok) void enter();
        else setView({ name: "login" });
      })
      .catch((err: unknown) => {
        if (!cancelled) setView({ name: "login", notice: messageOf(err) });
      });
    return () => {
      cancelled = true;
    };
  }, []);

  useEffect(() => {
    // Left a mail link's page by any way: the address bar no longer carries its token.
    if (view.name !== "reset" && view.name !== "verify") leaveMailLink();
  }, [view.name]);

  async function signOut() {
    setLogoutError(null);
    try {
      await logout();
      setView({ name: "login", notice: "You have been logged out." });
    } catch (err) {
      setLogoutError(messageOf(err));
    }
  }

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Stockroom</span>
        {isInApp(view) && (
          <nav className="nav" aria-label="Main">
            {PAGES.map((page) => (
              <button
                key={page.name}
                type="button"
                aria-current={view.name === page.name ? "page" : undefined}
                onClick={() => setView({ name: page.name, user: view.user })}
              >
                {page.label}
              </button>
            ))}
          </nav>
        )}
        {isInApp(view) && (
          <span className="who">
            <span className="user-email">{view.user.full_name || view.user.email}</span>
            <button type="button" className="secondary" onClick={() => void signOut()}>
              Log out
            </button>
          </span>
        )}
      </header>
      <main>
        {logoutError && (
          <div className="banner error" role="alert">
            {logoutError}
          </div>
        )}
        {view.name === "loading" && <p className="muted center">Loading…</p>}
        {view.name === "login" && (
          <LoginForm
            key={view.notice ?? "login"}
            initialEmail={view.email}
            notice={view.notice}
            onLoggedIn={() => void enter()}
            onRegister={() => setView({ name: "register" })}
            onForgot={(email) => setView({ name: "forgot", email })}
          />
        )}
        {view.name === "register" && (
          <RegisterForm
            onRegistered={(email) =>
              setView({
                name: "login",
                email,
                notice: "Account created. A link to confirm your e-mail address is on its way. Log in to continue.",
              })
            }
            onLogin={() => setView({ name: "login" })}
          />
        )}
        {view.name === "forgot" && <ForgotPasswordForm initialEmail={view.email} onLogin={() => setView({ name: "login" })} />}
        {view.name === "reset" && (
          <ResetPasswordPage
            token={view.token}
            onReset={() => setView({ name: "login", notice: "Your password has been changed. Log in with the new one." })}
            onForgot={() => setView({ name: "forgot" })}
            onLogin={() => setView({ name: "login" })}
          />
        )}
        {view.name === "verify" && <VerifyEmailPage token={view.token} onContinue={() => void resume()} />}
        {view.name === "products" && (
          <>
            {!view.user.email_verified && <VerifyNotice key={view.user.email} email={view.user.email} />}
            <Products />
          </>
        )}
        {view.name === "tokens" && <AccessTokens />}
      </main>
      <footer className="muted">API: {API_URL}</footer>
    </div>
  );
}
