/**
 * Turns every error answer of the API into one message a person can act on.
 *
 * The API answers RFC 9457 problem details (`application/problem+json`: `type`, `title`, `status`,
 * `detail`, and `errors` for a request that is not valid), and RFC 6749 errors at its token
 * endpoint (`error`, `error_description`). What this reads is machine-readable: the status,
 * `errors[].loc` and `Retry-After`; the English of `detail` is only shown, never parsed.
 */
import type { components } from "./schema";

type FieldError = components["schemas"]["FieldError"];

export type FieldErrors = Record<string, string>;

export class ApiError extends Error {
  readonly status: number;
  /** 422: message per field name (`errors[].loc` without its root). */
  readonly fields: FieldErrors;
  /** 429: seconds to wait, from Retry-After. */
  readonly retryAfter: number | null;

  constructor(status: number, message: string, fields: FieldErrors = {}, retryAfter: number | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

const LOC_ROOTS = new Set(["body", "query", "path", "header", "cookie"]);

function cleanMsg(msg: string): string {
  // Pydantic prefixes custom validator messages with "Value error, ".
  const text = msg.replace(/^Value error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function detailText(body: unknown): string | null {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.error_description === "string" && record.error_description) return record.error_description;
    if (typeof record.detail === "string" && record.detail) return record.detail;
    if (typeof record.error === "string" && record.error) return record.error.replace(/_/g, " ");
  }
  return null;
}

/** "Please correct: …" for the 422 messages of every field not in `shown`; null if none is left. */
export function summarise(fields: FieldErrors, shown: string[] = []): string | null {
  const rest = Object.entries(fields).filter(([name]) => !shown.includes(name));
  if (!rest.length) return null;
  return `Please correct: ${rest.map(([name, msg]) => (name === "_" ? msg : `${name}: ${msg}`)).join("; ")}`;
}

/** Builds the ApiError for a non-2xx response whose body (parsed JSON or text) is `body`. */
export function errorFromResponse(response: Response, body: unknown): ApiError {
  const status = response.status;
  const detail = detailText(body);

  if (status === 422) {
    const fields: FieldErrors = {};
    const items =
      body && typeof body === "object" && Array.isArray((body as { errors?: unknown }).errors)
        ? ((body as { errors: FieldError[] }).errors)
        : [];
    for (const item of items) {
      const path = (item.loc ?? []).filter((part, i) => !(i === 0 && LOC_ROOTS.has(String(part))));
      const key = path.length ? path.map(String).join(".") : "_";
      if (!(key in fields)) fields[key] = cleanMsg(item.msg ?? "Invalid value");
    }
    return new ApiError(status, summarise(fields) ?? detail ?? "Some values are invalid.", fields);
  }
  if (status === 429) {
    const wait = parseRetryAfter(response.headers.get("Retry-After"));
    const when = wait === null ? "in a little while" : `in ${plural(wait, "second")}`;
    return new ApiError(status, `Too many attempts. Try again ${when}.`, {}, wait);
  }
  if (status === 401) return new ApiError(status, "Your session has expired. Please log in again.");
  if (status === 403) return new ApiError(status, detail ?? "You are not allowed to do that.");
  if (status === 404) return new ApiError(status, detail ?? "Not found. It may have been deleted.");
  if (status === 409) return new ApiError(status, detail ?? "That conflicts with existing data.");
  if (status === 413) return new ApiError(status, "That is too large for the server to accept.");
  if (status >= 500) return new ApiError(status, `The server had a problem (HTTP ${status}). Please try again later.`);
  return new ApiError(status, detail ?? `Request failed (HTTP ${status}).`);
}

export function networkError(apiUrl: string): ApiError {
  return new ApiError(0, `Cannot reach the Stockroom API at ${apiUrl}. Check your connection and try again.`);
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
