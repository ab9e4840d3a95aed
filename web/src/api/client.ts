/**
 * The typed API client (openapi-fetch over types generated from the API's OpenAPI document) and the
 * browser session: the access token lives in this module's memory only; the refresh token is the
 * API's HttpOnly cookie, sent only to /auth/token and /auth/logout.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import { ApiError, errorFromResponse, networkError } from "./errors";

export type User = components["schemas"]["UserPublic"];
export type Product = components["schemas"]["ProductPublic"];
export type ProductPage = components["schemas"]["ProductPage"];
export type ProductCreate = components["schemas"]["ProductCreate"];
export type ProductUpdate = components["schemas"]["ProductUpdate"];
/** A personal access token as listed: never its secret. */
export type PersonalToken = components["schemas"]["TokenPublic"];
/** The answer to creating one: the only time the secret (`token`) is shown. */
export type PersonalTokenCreated = components["schemas"]["TokenCreated"];
export type PersonalTokenCreate = components["schemas"]["TokenCreate"];
export type ProductScope = PersonalTokenCreate["scopes"][number];
type TokenForm = components["schemas"]["Body_token"];

export const API_URL = (window.STOCKROOM_API_URL || import.meta.env.VITE_API_URL || "http://127.0.0.1:8000").replace(
  /\/+$/,
  "",
);

/** Marks the app's own auth calls: the API then answers with the refresh cookie, not a body field. */
const BROWSER_HEADERS = { "X-Requested-With": "stockroom-web" } as const;
const FORM_HEADERS = { ...BROWSER_HEADERS, "Content-Type": "application/x-www-form-urlencoded" } as const;
const REFRESH_LOCK = "stockroom-refresh";

let accessToken: string | null = null;
let refreshing: Promise<string | null> | null = null;
let onSessionEnded: (reason: string) => void = () => {};
let onEmailVerified: () => void = () => {};

/** Tells other tabs about a logout; carries nothing secret. */
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("stockroom") : null;
channel?.addEventListener("message", (event: MessageEvent<unknown>) => {
  const type = event.data && (event.data as { type?: unknown }).type;
  if (type === "logged-out" && accessToken !== null) {
    accessToken = null;
    onSessionEnded("You logged out in another tab.");
  } else if (type === "email-verified" && accessToken !== null) {
    onEmailVerified();
  }
});

export function setSessionEndedHandler(handler: (reason: string) => void): void {
  onSessionEnded = handler;
}

/** Called when another tab of this origin has just verified an e-mail address. */
export function setEmailVerifiedHandler(handler: () => void): void {
  onEmailVerified = handler;
}

function withBearer(request: Request, token: string | null): Request {
  const copy = new Request(request);
  if (token) copy.headers.set("Authorization", `Bearer ${token}`);
  return copy;
}

async function send(request: Request): Promise<Response> {
  try {
    return await fetch(request);
  } catch {
    throw networkError(API_URL);
  }
}

/** Adds the bearer token; on 401 refreshes once (shared by concurrent calls) and retries once. */
async function authorisedFetch(request: Request): Promise<Response> {
  const spare = request.clone();
  const used = accessToken;
  const response = await send(withBearer(request, used));
  if (response.status !== 401 || used === null) return response;
  const fresh = accessToken !== used && accessToken !== null ? accessToken : await refreshAccessToken();
  if (fresh === null) {
    onSessionEnded("Your session has ended. Please log in again.");
    return response;
  }
  return send(withBearer(spare, fresh));
}

const client = createClient<paths>({ baseUrl: API_URL, fetch: authorisedFetch });

function formBody(body: TokenForm | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(body ?? {})) if (value != null) params.set(key, String(value));
  return params.toString();
}

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw errorFromResponse(response, error);
  return data as T;
}

/**
 * One refresh at a time across every tab of this origin (Web Locks): the cookie jar is shared, so a
 * tab that waited for the lock presents the cookie the previous holder just received, and rotation
 * never sees a spent token twice. Within a tab, concurrent callers share one promise.
 * Resolves to the new access token, or null when the API has no session for this browser.
 */
export function refreshAccessToken(): Promise<string | null> {
  if (!refreshing) {
    // navigator.locks exists only in secure contexts (https, localhost, 127.0.0.1).
    const locked = navigator.locks?.request
      ? (async () => await navigator.locks.request(REFRESH_LOCK, refreshNow))()
      : refreshNow();
    const shared = locked.finally(() => {
      refreshing = null;
    });
    refreshing = shared;
    return shared;
  }
  return refreshing;
}

async function refreshNow(): Promise<string | null> {
  const { data, error, response } = await client.POST("/auth/token", {
    body: { grant_type: "refresh_token" },
    bodySerializer: formBody,
    headers: FORM_HEADERS,
    credentials: "include",
    fetch: send,
  });
  if (response.ok && data) {
    accessToken = data.access_token;
    return accessToken;
  }
  if (response.status === 400 || response.status === 401) {
    accessToken = null; // no cookie, or a spent / expired / revoked one: the user must log in
    return null;
  }
  throw errorFromResponse(response, error);
}

/** On page load: true when the refresh cookie still holds a live session. */
export async function restoreSession(): Promise<boolean> {
  return (await refreshAccessToken()) !== null;
}

export function isLoggedIn(): boolean {
  return accessToken !== null;
}

export async function login(email: string, password: string): Promise<void> {
  const data = await unwrap(
    client.POST("/auth/token", {
      body: { grant_type: "password", username: email, password },
      bodySerializer: formBody,
      headers: FORM_HEADERS,
      credentials: "include",
      fetch: send,
    }),
  );
  accessToken = data.access_token;
}

export async function logout(): Promise<void> {
  try {
    const { response } = await client.POST("/auth/logout", { headers: BROWSER_HEADERS, credentials: "include" });
    if (!response.ok && response.status !== 401) throw errorFromResponse(response, null);
  } finally {
    accessToken = null;
    channel?.postMessage({ type: "logged-out" });
  }
}

export function register(email: string, password: string, fullName: string): Promise<User> {
  return unwrap(client.POST("/auth/register", { body: { email, password, full_name: fullName || null } }));
}

/** Mails a reset link if the address has an account; resolves to the API's message either way. */
export async function requestPasswordReset(email: string): Promise<string> {
  const data = await unwrap(client.POST("/auth/password-reset/request", { body: { email }, fetch: send }));
  return data.detail;
}

/** Sets a new password with the token of a mailed link; every session of the account ends. */
export async function confirmPasswordReset(token: string, newPassword: string): Promise<void> {
  await unwrap(
    client.POST("/auth/password-reset/confirm", { body: { token, new_password: newPassword }, fetch: send }),
  );
}

/** Marks the address the link was mailed to as verified, and tells the other tabs (no secret). */
export async function verifyEmail(token: string): Promise<void> {
  await unwrap(client.POST("/auth/verify-email", { body: { token }, fetch: send }));
  channel?.postMessage({ type: "email-verified" });
}

/** Mails a new verification link to the current user (older links stop working). */
export async function resendVerification(): Promise<string> {
  const data = await unwrap(client.POST("/auth/verify-email/resend"));
  return data.detail;
}

export function getMe(): Promise<User> {
  return unwrap(client.GET("/users/me"));
}

export function listProducts(limit: number, offset: number): Promise<ProductPage> {
  return unwrap(client.GET("/products", { params: { query: { limit, offset } } }));
}

/** Creates once per `key`: a retry of the same form (a lost answer, a second click) gets the first product. */
export function createProduct(body: ProductCreate, key: string = crypto.randomUUID()): Promise<Product> {
  return unwrap(client.POST("/products", { body, params: { header: { "Idempotency-Key": key } } }));
}

/** Saves only over the version that was read (`etag`): someone else's change in between is a 412. */
export function updateProduct(id: number, body: ProductUpdate, etag: string): Promise<Product> {
  return unwrap(
    client.PATCH("/products/{product_id}", {
      params: { path: { product_id: id }, header: { "If-Match": etag } },
      body,
    }),
  );
}

export async function deleteProduct(id: number, etag: string): Promise<void> {
  await unwrap(
    client.DELETE("/products/{product_id}", { params: { path: { product_id: id }, header: { "If-Match": etag } } }),
  );
}

/** Live personal access tokens (not revoked, not expired) of the current user; no secrets. */
export function listPersonalTokens(): Promise<PersonalToken[]> {
  return unwrap(client.GET("/users/me/tokens"));
}

/** Makes a token for scripts; the answer's `token` is shown this once and never again. */
export function createPersonalToken(body: PersonalTokenCreate): Promise<PersonalTokenCreated> {
  return unwrap(client.POST("/users/me/tokens", { body }));
}

export async function revokePersonalToken(id: number): Promise<void> {
  await unwrap(client.DELETE("/users/me/tokens/{token_id}", { params: { path: { token_id: id } } }));
}

export { ApiError };
