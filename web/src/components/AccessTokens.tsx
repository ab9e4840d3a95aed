import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../api/errors";
import {
  createPersonalToken,
  listPersonalTokens,
  revokePersonalToken,
  type PersonalToken,
  type PersonalTokenCreated,
  type ProductScope,
} from "../api/client";
import { ConfirmInline } from "./ConfirmInline";
import { ErrorBanner, Field, fieldErrors, useFormAction } from "./Form";

const FORM_ID = "create-token";
const TOKEN_FIELDS = ["name", "scopes", "expires_in_days"];
const DEFAULT_DAYS = "30";

const SCOPES: { scope: ProductScope; description: string }[] = [
  { scope: "products:read", description: "list and read products" },
  { scope: "products:write", description: "create, change and delete products" },
];

interface Draft {
  name: string;
  scopes: ProductScope[];
  days: string;
}

const EMPTY: Draft = { name: "", scopes: ["products:read"], days: DEFAULT_DAYS };

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** The API's UTC timestamps, in the reader's time zone (a value without a zone is read as UTC). */
function formatTime(iso: string): string {
  const date = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(date.getTime()) ? iso : DATE_TIME.format(date);
}

function Time({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}

/** "" is not 0: an empty lifetime goes to the API as null, whose 422 asks for a number. */
function daysOf(text: string): number {
  return text.trim() === "" ? Number.NaN : Number(text.trim());
}

function CreateTokenForm({ onCreated }: { onCreated: (created: PersonalTokenCreated) => Promise<void> }) {
  const [draft, setDraft] = useState(EMPTY);
  const { error, busy, submit } = useFormAction(async () => {
    // NaN is sent as null (JSON has no NaN): the API answers with its own 422 for the field.
    const created = await createPersonalToken({ name: draft.name, scopes: draft.scopes, expires_in_days: daysOf(draft.days) });
    setDraft(EMPTY);
    await onCreated(created);
  });

  const errors = fieldErrors(error);
  // A 422 on one scope is reported at "scopes.<index>": shown under the checkboxes too.
  const scopeKeys = Object.keys(errors).filter((key) => key === "scopes" || key.startsWith("scopes."));
  const scopeError = scopeKeys.map((key) => errors[key]).find(Boolean);
  const scopeErrorId = `${FORM_ID}-scopes-error`;

  function toggle(scope: ProductScope, on: boolean) {
    const scopes = on ? [...draft.scopes, scope] : draft.scopes.filter((s) => s !== scope);
    setDraft({ ...draft, scopes: SCOPES.map((s) => s.scope).filter((s) => scopes.includes(s)) });
  }

  return (
    <form id={FORM_ID} className="token-form" onSubmit={submit} noValidate>
      <ErrorBanner error={error} fields={[...TOKEN_FIELDS, ...scopeKeys]} />
      <div className="row">
        <Field form={FORM_ID} label="Name" name="name" placeholder="nightly import" maxLength={100} value={draft.name} errors={errors} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
        <Field
          form={FORM_ID}
          label="Lifetime (days, 1 to 365)"
          name="expires_in_days"
          type="number"
          inputMode="numeric"
          min={1}
          max={365}
          value={draft.days}
          errors={errors}
          onChange={(e) => setDraft({ ...draft, days: e.target.value })}
        />
      </div>
      <fieldset className={scopeError ? "field scopes invalid" : "field scopes"} aria-describedby={scopeError ? scopeErrorId : undefined}>
        <legend>Scopes</legend>
        {SCOPES.map(({ scope, description }) => (
          <label key={scope} className="check">
            <input type="checkbox" name="scopes" value={scope} checked={draft.scopes.includes(scope)} onChange={(e) => toggle(scope, e.target.checked)} />
            <code>{scope}</code> <span className="muted">{description}</span>
          </label>
        ))}
        {scopeError && (
          <p className="field-error" id={scopeErrorId} role="alert">
            {scopeError}
          </p>
        )}
      </fieldset>
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}

type CopyState = "idle" | "copied" | "failed";

/** The new token, this once: a read-only field to copy it from. It lives in this component only. */
function NewToken({ created, onDone }: { created: PersonalTokenCreated; onDone: () => void }) {
  const [copy, setCopy] = useState<CopyState>("idle");
  const input = useRef<HTMLInputElement>(null);

  async function copyToken() {
    try {
      // Only in secure contexts (https, localhost); the user may also refuse the permission.
      if (!navigator.clipboard?.writeText) throw new Error("no clipboard");
      await navigator.clipboard.writeText(created.token);
      setCopy("copied");
    } catch {
      input.current?.select();
      setCopy("failed");
    }
  }

  return (
    <section className="card new-token" aria-label="New access token">
      <h2>Token “{created.name}” created</h2>
      <div className="banner warn" role="note">
        Copy this token now and keep it like a password: <strong>it will not be shown again.</strong>
      </div>
      <div className="field">
        <label htmlFor="new-token">Your new token</label>
        <div className="copy-row">
          <input id="new-token" ref={input} readOnly spellCheck={false} autoComplete="off" value={created.token} onFocus={(e) => e.target.select()} />
          <button type="button" onClick={() => void copyToken()}>
            {copy === "copied" ? "Copied" : "Copy"}
          </button>
        </div>
      </div>
      {copy === "copied" && (
        <p className="muted" role="status">
          Copied to the clipboard.
        </p>
      )}
      {copy === "failed" && (
        <p className="field-error" role="alert">
          Could not copy it for you: the token is selected, press Ctrl+C (⌘C on a Mac) to copy it.
        </p>
      )}
      <p className="muted">
        Scripts send it as <code>Authorization: Bearer stk_pat_…</code> · scopes {created.scopes.join(", ")} · expires{" "}
        <Time iso={created.expires_at} />
      </p>
      <button type="button" className="secondary" onClick={onDone}>
        Done
      </button>
    </section>
  );
}

export function AccessTokens() {
  const [tokens, setTokens] = useState<PersonalToken[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [created, setCreated] = useState<PersonalTokenCreated | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);

  const load = useCallback(async () => {
    try {
      setTokens(await listPersonalTokens());
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  async function onCreated(token: PersonalTokenCreated) {
    setNotice(null);
    setError(null);
    setCreated(token);
    await load();
  }

  async function revoke(token: PersonalToken) {
    setNotice(null);
    setError(null);
    setConfirming(null);
    if (created?.id === token.id) setCreated(null);
    let failure: unknown = null;
    try {
      await revokePersonalToken(token.id);
    } catch (err) {
      failure =
        err instanceof ApiError && err.status === 404
          ? new ApiError(404, `“${token.name}” was already revoked or has expired; the list has been refreshed.`)
          : err;
    }
    // Reload first: a successful reload clears the error, so the outcome is shown after it.
    await load();
    if (failure) setError(failure);
    else setNotice(`Revoked “${token.name}”: it no longer works.`);
  }

  return (
    <>
      {created && <NewToken key={created.id} created={created} onDone={() => setCreated(null)} />}

      <section className="card">
        <h2>New access token</h2>
        <p className="muted">
          Personal access tokens let scripts use the API as you, with product scopes only (never your account). Each one expires;
          revoke one as soon as it is no longer needed.
        </p>
        <CreateTokenForm onCreated={onCreated} />
      </section>

      <section className="card">
        <div className="list-head">
          <h2>Your access tokens</h2>
          {tokens !== null && tokens.length > 0 && <span className="muted">{tokens.length} live</span>}
        </div>
        {notice && (
          <div className="banner info" role="status">
            {notice}
          </div>
        )}
        <ErrorBanner error={error} />
        {tokens === null && !error && <p className="muted">Loading…</p>}
        {tokens !== null && tokens.length === 0 && <p className="muted empty">No access tokens yet.</p>}
        {tokens !== null && tokens.length > 0 && (
          <table className="tokens">
            <thead>
              <tr>
                <th>Name</th>
                <th>Scopes</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {tokens.map((token) => (
                <tr key={token.id} data-token-id={token.id}>
                  <td className="name">{token.name}</td>
                  <td className="scopes">{token.scopes.join(", ")}</td>
                  <td className="created">
                    <Time iso={token.created_at} />
                  </td>
                  <td className="expires">
                    <Time iso={token.expires_at} />
                  </td>
                  <td className="last-used">{token.last_used_at ? <Time iso={token.last_used_at} /> : <span className="muted">never</span>}</td>
                  <td className="row-actions">
                    {confirming === token.id ? (
                      <ConfirmInline
                        question="Revoke?"
                        confirmLabel="Yes, revoke"
                        onConfirm={() => void revoke(token)}
                        onCancel={() => setConfirming(null)}
                      />
                    ) : (
                      <button type="button" className="secondary" onClick={() => setConfirming(token.id)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
