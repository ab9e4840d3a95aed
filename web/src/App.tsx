import { useEffect, useState } from "react";
import { API_URL, getMe, logout, restoreSession, setSessionEndedHandler, type User } from "./api/client";
import { messageOf } from "./api/errors";
import { LoginForm, RegisterForm } from "./components/AuthForms";
import { Products } from "./components/Products";

type View =
  | { name: "loading" }
  | { name: "login"; notice?: string; email?: string }
  | { name: "register" }
  | { name: "products"; user: User };

export default function App() {
  const [view, setView] = useState<View>({ name: "loading" });
  const [logoutError, setLogoutError] = useState<string | null>(null);

  async function enter() {
    try {
      setView({ name: "products", user: await getMe() });
    } catch (err) {
      setView({ name: "login", notice: messageOf(err) });
    }
  }

  useEffect(() => {
    setSessionEndedHandler((reason) => setView({ name: "login", notice: reason }));
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
        {view.name === "products" && (
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
          />
        )}
        {view.name === "register" && (
          <RegisterForm
            onRegistered={(email) => setView({ name: "login", email, notice: "Account created. Log in to continue." })}
            onLogin={() => setView({ name: "login" })}
          />
        )}
        {view.name === "products" && <Products />}
      </main>
      <footer className="muted">API: {API_URL}</footer>
    </div>
  );
}
