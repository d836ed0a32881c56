/**
 * How a failed Engine API call is described: the error type with the socket,
 * request and status it concerns, and the message and next step for each way
 * an exchange fails (HTTP status, connection, timeout, unreadable payload).
 *
 * Server text (error bodies, container ids, zod issues about hostile
 * payloads) reaches these messages only through `excerpt`, which makes it one
 * safe, bounded line.
 *
 * @module
 */
import { RdhpfError } from "../errors.ts";
import { replaceUnsafe } from "../text_safety.ts";
import { ErrorBodySchema } from "./schemas.ts";

/** Characters of a server error body quoted in an error message. */
const EXCERPT_CHARS = 200;

/** Why an Engine API call failed: HTTP status, connection, timeout or a payload rdhpf cannot read. */
export type EngineErrorKind = "http" | "connection" | "timeout" | "payload";

/** A failed Engine API call, with the socket, request and status it concerns. */
export class EngineApiError extends RdhpfError {
  constructor(
    message: string,
    hint: string | null,
    readonly kind: EngineErrorKind,
    readonly socketPath: string,
    readonly method: string,
    readonly path: string,
    /** HTTP status; null when no response arrived. */
    readonly status: number | null,
    options?: ErrorOptions,
  ) {
    super(message, hint, 1, options);
  }
}

/** Unsafe characters (line breaks, ESC, bidi) become spaces, length bounded: server text may quote hostile input. */
export function excerpt(text: string): string {
  const clean = replaceUnsafe(text, () => " ").replace(/ {2,}/g, " ").trim();
  return clean.length > EXCERPT_CHARS ? `${clean.slice(0, EXCERPT_CHARS)}…` : clean;
}

function errorMessageOf(body: Buffer): string {
  const text = body.toString("utf8");
  try {
    const parsed = ErrorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) return excerpt(parsed.data.message);
  } catch {
    // Not JSON: some errors (e.g. "client version too old") are plain text.
  }
  return excerpt(text);
}

/** The errno code of a socket error ("ECONNRESET"), else the error's name. */
export function nodeErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : err instanceof Error ? err.name : "unknown";
}

/** Short, single-line description of the first zod issue. */
export function firstIssue(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  return excerpt(`${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`);
}

/** A non-2xx answer, quoting the Engine's message. */
export function httpError(socketPath: string, method: string, path: string, status: number, body: Buffer): EngineApiError {
  const message = errorMessageOf(body);
  return new EngineApiError(
    `Docker Engine API ${method} ${path} on ${socketPath} failed with HTTP ${status}${message ? `: ${message}` : ""}`,
    status >= 500
      ? "the remote Docker daemon reported an internal error; check its logs (`journalctl -u docker` on the remote host)"
      : "this is likely a bug in rdhpf or an unsupported Engine; run `docker version` on the remote host and report it",
    "http",
    socketPath,
    method,
    path,
    status,
  );
}

const CONNECTION_HINT = "check that the remote Docker daemon runs (`docker info` on the remote host) and that its socket is still forwarded";

/** The socket failed (refused, reset, missing); `err` is kept as the cause. */
export function connectionError(socketPath: string, method: string, path: string, err: unknown): EngineApiError {
  const detail = `${nodeErrorCode(err)}: ${excerpt(err instanceof Error ? err.message : String(err))}`;
  return new EngineApiError(`Docker Engine API ${method} ${path} on ${socketPath} failed: ${detail}`, CONNECTION_HINT, "connection", socketPath, method, path, null, {
    cause: err,
  });
}

/** No answer within the request timeout. */
export function timeoutError(socketPath: string, method: string, path: string, timeoutMs: number): EngineApiError {
  return new EngineApiError(`Docker Engine API ${method} ${path} on ${socketPath} failed: no answer within ${timeoutMs} ms`, CONNECTION_HINT, "timeout", socketPath, method, path, null, {
    cause: null,
  });
}

/** An answer rdhpf cannot read: the Engine may be incompatible. */
export function payloadError(socketPath: string, method: string, path: string, status: number, detail: string): EngineApiError {
  return new EngineApiError(
    `Docker Engine API ${method} ${path} on ${socketPath} returned a payload rdhpf cannot read: ${detail}`,
    "the remote Engine may be incompatible; run `docker version` on the remote host and report it",
    "payload",
    socketPath,
    method,
    path,
    status,
  );
}
