/**
 * The links the API mails point into the app: `<app>/reset-password?token=…` and
 * `<app>/verify-email?token=…`. The static server answers index.html for those paths; the app reads
 * which one it was opened with once, at start-up. The token stays in memory only (never in storage
 * or logs), and the address bar loses it once the link has done its work (`leaveMailLink`).
 */

export type MailLink = { kind: "reset-password" | "verify-email"; token: string };

const KINDS = ["reset-password", "verify-email"] as const;

/**
 * The mail link the page was opened with, or null. A missing token is kept as "". The token is
 * read from the query (what the API sends) or, should links move it there, the fragment.
 */
export function readMailLink(location: Location = window.location): MailLink | null {
  const kind = KINDS.find((name) => location.pathname.endsWith(`/${name}`));
  if (!kind) return null;
  const token =
    new URLSearchParams(location.search).get("token") ?? new URLSearchParams(location.hash.replace(/^#/, "")).get("token");
  return { kind, token: token?.trim() ?? "" };
}

/** Replaces the link's URL (and its token) with the app's own, so a reload does not reuse it. */
export function leaveMailLink(): void {
  if (!readMailLink()) return;
  const home = new URL("./", window.location.href); // the app's base: the link's directory
  window.history.replaceState(null, "", home.pathname); // no query, no fragment
}
