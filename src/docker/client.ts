/**
 * The one HTTP client rdhpf uses for the Docker Engine API. It speaks to a
 * LOCAL unix socket (the remote engine's socket forwarded through the SSH
 * master, or the dial-stdio relay), so a request costs about 2 ms instead of
 * the 0.5-1.3 s of a remote docker CLI command.
 *
 * Plain requests share a keep-alive pool; every event stream gets its own
 * connection so that it never holds a pooled socket hostage.
 *
 * @module
 */
import http from "node:http";
import { getLogger } from "@logtape/logtape";
import { RdhpfError } from "../errors.ts";
import { replaceUnsafe } from "../text_safety.ts";
import { JsonLineSplitter } from "./json_lines.ts";
import { containerFromInspect, containerFromSummary } from "./ports.ts";
import {
  ContainerInspectSchema,
  ContainerSummarySchema,
  type DockerEvent,
  DockerEventSchema,
  ErrorBodySchema,
  type VersionPayload,
  VersionSchema,
} from "./schemas.ts";
import type { ObservedContainer } from "./types.ts";

const log = getLogger(["rdhpf", "docker"]);

/** Lowest Engine API version rdhpf speaks: Docker 20.10. */
export const MIN_API_VERSION = "1.41";
/**
 * Highest API version rdhpf asks for. The fields it reads are unchanged up to
 * here (1.52 dropped the old `status`/`id` event fields, which the schemas
 * treat as optional); pinning keeps a newer engine answering in this shape.
 */
export const MAX_API_VERSION = "1.55";

const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** A line of `/events` longer than this is dropped: real events are < 2 KiB. */
const DEFAULT_MAX_EVENT_LINE_BYTES = 1024 * 1024;
/** Bound on a plain response body (a container list with huge labels). */
const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Characters of a server error body quoted in an error message. */
const EXCERPT_CHARS = 200;
/** The malformed-item memory is cleared when it grows past this. */
const MAX_REMEMBERED_MALFORMED = 1000;

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

/** What `negotiate()` learned about the remote engine. */
export interface EngineInfo {
  serverVersion: string;
  /** The API version every later request is pinned to. */
  apiVersion: string;
  os: string;
  arch: string;
}

/** Options of `EngineClient`. */
export interface EngineClientOptions {
  /** Local unix socket that reaches the Engine. */
  socketPath: string;
  /** Bound on a plain request, and on the wait for an event stream's headers. Default 5000. */
  requestTimeoutMs?: number;
  /** Cap per `/events` line; longer lines are skipped. Default 1 MiB. */
  maxEventLineBytes?: number;
  /** Cap on a plain response body. Default 64 MiB. */
  maxBodyBytes?: number;
}

/** Options of `EngineClient.events()`. */
export interface EventStreamOptions {
  /** Aborting ends the stream: the iterator returns. */
  signal: AbortSignal;
  /** Called once, when the response headers arrived and before any event is yielded. */
  onOpen?: () => void;
  /** Unix seconds (fractions allowed): replay events since then, then continue live. */
  since?: number;
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** "1.41" → [1, 41] compared numerically. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** Unsafe characters (line breaks, ESC, bidi) become spaces, length bounded: server text may quote hostile input. */
function excerpt(text: string): string {
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

function nodeErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : err instanceof Error ? err.name : "unknown";
}

/** Short, single-line description of the first zod issue. */
function firstIssue(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  return excerpt(`${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`);
}

/** HTTP client for the Docker Engine API over a local unix socket. */
export class EngineClient {
  readonly socketPath: string;
  readonly #timeoutMs: number;
  readonly #maxEventLineBytes: number;
  readonly #maxBodyBytes: number;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  readonly #streams = new Set<http.ClientRequest>();
  readonly #malformedSeen = new Set<string>();
  #apiVersion: string | null = null;
  #negotiating: Promise<EngineInfo> | null = null;
  #closed = false;

  constructor(opts: EngineClientOptions) {
    this.socketPath = opts.socketPath;
    this.#timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxEventLineBytes = opts.maxEventLineBytes ?? DEFAULT_MAX_EVENT_LINE_BYTES;
    this.#maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /** The pinned API version, or null before `negotiate()`. */
  get apiVersion(): string | null {
    return this.#apiVersion;
  }

  /** `GET /_ping`: resolves when the Engine answers 200. */
  async ping(): Promise<void> {
    const res = await this.#request("GET", "/_ping");
    this.#expectOk("GET", "/_ping", res);
  }

  /**
   * `GET /version` unversioned, then pins the API version to
   * min(server ApiVersion, MAX_API_VERSION). Refuses servers below 1.41 and
   * servers whose minimum is above what rdhpf speaks (exit status 2: retrying
   * cannot help).
   */
  negotiate(): Promise<EngineInfo> {
    this.#negotiating ??= this.#negotiate().finally(() => {
      this.#negotiating = null;
    });
    return this.#negotiating;
  }

  async #negotiate(): Promise<EngineInfo> {
    const version = await this.#fetchVersion();
    const server = version.ApiVersion;
    if (compareApiVersions(server, MIN_API_VERSION) < 0) {
      throw new RdhpfError(
        `remote Docker ${excerpt(version.Version)} speaks Engine API ${server}; rdhpf needs API ${MIN_API_VERSION} (Docker 20.10) or newer`,
        "upgrade Docker on the remote host to 20.10 or newer",
        2,
      );
    }
    const apiVersion = compareApiVersions(server, MAX_API_VERSION) > 0 ? MAX_API_VERSION : server;
    if (version.MinAPIVersion && compareApiVersions(version.MinAPIVersion, apiVersion) > 0) {
      throw new RdhpfError(
        `remote Docker ${excerpt(version.Version)} requires Engine API ${version.MinAPIVersion} or newer; rdhpf speaks up to ${MAX_API_VERSION}`,
        "upgrade rdhpf",
        2,
      );
    }
    this.#apiVersion = apiVersion;
    const info = { serverVersion: version.Version, apiVersion, os: version.Os ?? "unknown", arch: version.Arch ?? "unknown" };
    log.debug("Engine API version negotiated", { server_version: info.serverVersion, server_api_version: server, api_version: apiVersion });
    return info;
  }

  /**
   * Unversioned `/version`; unversioned paths are deprecated, so when an
   * engine refuses it, ask `/_ping` for the `Api-Version` header (as the
   * docker CLI does) and repeat the request pinned to that version.
   */
  async #fetchVersion(): Promise<VersionPayload> {
    const res = await this.#request("GET", "/version");
    if (res.status === 400 || res.status === 404) {
      const ping = await this.#request("GET", "/_ping");
      const header = ping.headers["api-version"];
      if (typeof header === "string" && /^\d+\.\d+$/.test(header)) {
        const pinned = compareApiVersions(header, MAX_API_VERSION) > 0 ? MAX_API_VERSION : header;
        const path = `/v${pinned}/version`;
        const versioned = await this.#request("GET", path);
        this.#expectOk("GET", path, versioned);
        return this.#parseBody("GET", path, versioned, VersionSchema);
      }
    }
    this.#expectOk("GET", "/version", res);
    return this.#parseBody("GET", "/version", res, VersionSchema);
  }

  async #versionPrefix(): Promise<string> {
    return `/v${this.#apiVersion ?? (await this.negotiate()).apiVersion}`;
  }

  /**
   * Running containers (`GET /containers/json`). An item that does not
   * validate is skipped, with one warning per container id.
   */
  async listContainers(): Promise<ObservedContainer[]> {
    const path = `${await this.#versionPrefix()}/containers/json`;
    const res = await this.#request("GET", path);
    this.#expectOk("GET", path, res);
    const items = this.#parseJson("GET", path, res);
    if (!Array.isArray(items)) throw this.#payloadError("GET", path, res.status, "expected a JSON array");
    const containers: ObservedContainer[] = [];
    for (const item of items) {
      const parsed = ContainerSummarySchema.safeParse(item);
      if (parsed.success) containers.push(containerFromSummary(parsed.data));
      else this.#reportMalformed(item, firstIssue(parsed.error));
    }
    return containers;
  }

  /**
   * One container (`GET /containers/{id}/json`); null when it does not exist
   * (404) or is not running, matching what `listContainers` would show.
   */
  async inspectContainer(id: string): Promise<ObservedContainer | null> {
    // Ids and names are [a-zA-Z0-9_.-]; anything else cannot name a container.
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) return null;
    const path = `${await this.#versionPrefix()}/containers/${id}/json`;
    const res = await this.#request("GET", path);
    if (res.status === 404) return null;
    this.#expectOk("GET", path, res);
    const payload = this.#parseBody("GET", path, res, ContainerInspectSchema);
    return payload.State.Running ? containerFromInspect(payload) : null;
  }

  /**
   * Streams `GET /events` for containers. Returns when the Engine closes the
   * stream, the connection breaks or `signal` aborts; throws when the stream
   * cannot be opened (connection, timeout or HTTP error). A line that is not
   * a valid event is skipped with one warning.
   */
  async *events(opts: EventStreamOptions): AsyncGenerator<DockerEvent, void, undefined> {
    const { signal } = opts;
    if (signal.aborted) return;
    const query = new URLSearchParams({ filters: JSON.stringify({ type: ["container"] }) });
    if (opts.since !== undefined) query.set("since", opts.since.toFixed(9));
    const path = `${await this.#versionPrefix()}/events?${query}`;
    const opened = await this.#openStream(path, signal);
    if (!opened) return;
    const { req, res } = opened;
    const startedAt = performance.now();
    let received = 0;
    let endReason = "closed by the Engine";
    const splitter = new JsonLineSplitter(this.#maxEventLineBytes);
    const onAbort = () => req.destroy();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      // The signal may have fired between the headers and here.
      if (signal.aborted) onAbort();
      else opts.onOpen?.();
      for await (const chunk of res as AsyncIterable<Buffer>) {
        const { lines, dropped } = splitter.push(chunk);
        for (const bytes of dropped) log.warn("Skipping oversized Docker event line", { bytes, max_bytes: this.#maxEventLineBytes });
        for (const line of lines) {
          const event = this.#parseEvent(line);
          if (event) {
            received++;
            yield event;
          }
        }
      }
    } catch (err) {
      // After the headers, a broken stream is an end, not an error: the caller resyncs and reopens.
      endReason = signal.aborted ? "aborted" : `connection lost (${nodeErrorCode(err)})`;
    } finally {
      if (signal.aborted) endReason = "aborted";
      signal.removeEventListener("abort", onAbort);
      req.destroy();
      this.#streams.delete(req);
      log.debug("Docker event stream ended", {
        reason: endReason,
        events_received: received,
        duration_ms: Math.round(performance.now() - startedAt),
      });
    }
  }

  /** Destroys pooled keep-alive sockets and open event streams. */
  close(): void {
    this.#closed = true;
    for (const req of this.#streams) req.destroy();
    this.#streams.clear();
    this.#agent.destroy();
  }

  #parseEvent(line: string): DockerEvent | null {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      log.warn("Skipping malformed Docker event line", { bytes: line.length, error: excerpt(String(err)) });
      return null;
    }
    const parsed = DockerEventSchema.safeParse(json);
    if (!parsed.success) {
      log.warn("Skipping invalid Docker event", { bytes: line.length, issue: firstIssue(parsed.error) });
      return null;
    }
    return parsed.data;
  }

  #reportMalformed(item: unknown, issue: string): void {
    const rawId = (item as { Id?: unknown } | null)?.Id;
    const id = typeof rawId === "string" ? excerpt(rawId.slice(0, 64)) : "(no id)";
    if (this.#malformedSeen.has(id)) return;
    if (this.#malformedSeen.size >= MAX_REMEMBERED_MALFORMED) this.#malformedSeen.clear();
    this.#malformedSeen.add(id);
    log.warn("Skipping malformed container in the Engine API list", { container_id: id, issue });
  }

  #parseJson(method: string, path: string, res: RawResponse): unknown {
    try {
      return JSON.parse(res.body.toString("utf8"));
    } catch (err) {
      throw this.#payloadError(method, path, res.status, `not JSON (${excerpt(String(err))})`);
    }
  }

  #parseBody<T>(method: string, path: string, res: RawResponse, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Parameters<typeof firstIssue>[0] } }): T {
    const parsed = schema.safeParse(this.#parseJson(method, path, res));
    if (!parsed.success) throw this.#payloadError(method, path, res.status, firstIssue(parsed.error));
    return parsed.data;
  }

  #payloadError(method: string, path: string, status: number, detail: string): EngineApiError {
    return new EngineApiError(
      `Docker Engine API ${method} ${path} on ${this.socketPath} returned a payload rdhpf cannot read: ${detail}`,
      "the remote Engine may be incompatible; run `docker version` on the remote host and report it",
      "payload",
      this.socketPath,
      method,
      path,
      status,
    );
  }

  #expectOk(method: string, path: string, res: RawResponse): void {
    if (res.status >= 200 && res.status < 300) return;
    throw this.#httpError(method, path, res.status, res.body);
  }

  #httpError(method: string, path: string, status: number, body: Buffer): EngineApiError {
    const message = errorMessageOf(body);
    return new EngineApiError(
      `Docker Engine API ${method} ${path} on ${this.socketPath} failed with HTTP ${status}${message ? `: ${message}` : ""}`,
      status >= 500
        ? "the remote Docker daemon reported an internal error; check its logs (`journalctl -u docker` on the remote host)"
        : "this is likely a bug in rdhpf or an unsupported Engine; run `docker version` on the remote host and report it",
      "http",
      this.socketPath,
      method,
      path,
      status,
    );
  }

  #connectionError(method: string, path: string, err: unknown, kind: "connection" | "timeout"): EngineApiError {
    const detail = kind === "timeout" ? `no answer within ${this.#timeoutMs} ms` : `${nodeErrorCode(err)}: ${excerpt(err instanceof Error ? err.message : String(err))}`;
    return new EngineApiError(
      `Docker Engine API ${method} ${path} on ${this.socketPath} failed: ${detail}`,
      "check that the remote Docker daemon runs (`docker info` on the remote host) and that its socket is still forwarded",
      kind,
      this.socketPath,
      method,
      path,
      null,
      { cause: err },
    );
  }

  #assertOpen(method: string, path: string): void {
    if (this.#closed) {
      throw new EngineApiError(`Docker Engine API ${method} ${path} on ${this.socketPath}: client closed`, null, "connection", this.socketPath, method, path, null);
    }
  }

  async #request(method: string, path: string): Promise<RawResponse> {
    try {
      return await this.#requestOnce(method, path);
    } catch (err) {
      // A pooled connection the Engine closed while idle fails on reuse; a GET is safe to repeat once.
      if (err instanceof EngineApiError && err.kind === "connection" && (err.cause as { reusedSocket?: boolean } | undefined)?.reusedSocket) {
        return await this.#requestOnce(method, path);
      }
      throw err;
    }
  }

  #requestOnce(method: string, path: string): Promise<RawResponse> {
    const started = performance.now();
    const elapsedMs = () => Math.round((performance.now() - started) * 100) / 100;
    const { response } = this.#exchange<RawResponse>(method, path, { agent: this.#agent, accept: "application/json" }, (res, req, done) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > this.#maxBodyBytes) {
          req.destroy();
          done(this.#payloadError(method, path, res.statusCode ?? 0, `body larger than ${this.#maxBodyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => done(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", (err) => done(this.#connectionError(method, path, err, "connection")));
    });
    return response.then(
      (res) => {
        // Without a signal the exchange never ends with null.
        const r = res!;
        log.debug("Engine API request", { method, path, status: r.status, duration_ms: elapsedMs() });
        log.trace("Engine API response size", { method, path, bytes: r.body.length });
        return r;
      },
      (err: EngineApiError) => {
        log.debug("Engine API request failed", { method, path, kind: err.kind, error: err.message, duration_ms: elapsedMs() });
        throw err;
      },
    );
  }

  /** Opens an event stream on its own connection; null when `signal` aborted first. */
  #openStream(path: string, signal: AbortSignal): Promise<{ req: http.ClientRequest; res: http.IncomingMessage } | null> {
    const started = performance.now();
    type Opened = { req: http.ClientRequest; res: http.IncomingMessage };
    const accept = "application/x-ndjson, application/json";
    const { req, response } = this.#exchange<Opened>("GET", path, { agent: false, accept, signal }, (res, req, done) => {
      const status = res.statusCode ?? 0;
      log.debug("Engine API request", { method: "GET", path, status, duration_ms: Math.round(performance.now() - started) });
      if (status === 200) return done(null, { req, res });
      // Read a bounded excerpt of the error body, then fail.
      const chunks: Buffer[] = [];
      let bytes = 0;
      const fail = () => {
        req.destroy();
        done(this.#httpError("GET", path, status, Buffer.concat(chunks)));
      };
      res.on("data", (c: Buffer) => {
        if (bytes < 4096) chunks.push(c);
        bytes += c.length;
      });
      res.on("end", fail);
      res.on("error", fail);
    });
    // Held until events() ends it, so that close() can end a live stream.
    this.#streams.add(req);
    const forget = () => this.#streams.delete(req);
    return response.then(
      (opened) => {
        if (opened === null) forget();
        return opened;
      },
      (err) => {
        forget();
        throw err;
      },
    );
  }

  /**
   * One request on the Engine socket, settled exactly once: by `onResponse`
   * (through `done`), with a timeout error when it has not settled within the
   * request timeout, with a connection error, or with null when `signal`
   * aborts. A timeout or an abort destroys the request.
   */
  #exchange<T>(
    method: string,
    path: string,
    opts: { agent: http.Agent | false; accept: string; signal?: AbortSignal },
    onResponse: (res: http.IncomingMessage, req: http.ClientRequest, done: (err: EngineApiError | null, value?: T) => void) => void,
  ): { req: http.ClientRequest; response: Promise<T | null> } {
    this.#assertOpen(method, path);
    const { signal } = opts;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort = () => {};
    let resolveResponse!: (v: T | null) => void;
    let rejectResponse!: (err: EngineApiError) => void;
    const response = new Promise<T | null>((resolve, reject) => {
      resolveResponse = resolve;
      rejectResponse = reject;
    });
    const settle = (err: EngineApiError | null, value: T | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (err) rejectResponse(err);
      else resolveResponse(value);
    };
    const req = http.request(
      { socketPath: this.socketPath, path, method, agent: opts.agent, headers: { Host: "docker", Accept: opts.accept } },
      (res) => onResponse(res, req, (err, value) => settle(err, value ?? null)),
    );
    onAbort = () => {
      req.destroy();
      settle(null, null);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(() => {
      req.destroy();
      settle(this.#connectionError(method, path, null, "timeout"), null);
    }, this.#timeoutMs);
    req.on("error", (err) => {
      if (signal?.aborted) return settle(null, null);
      // Remember whether the failed socket came from the pool (see #request).
      Object.assign(err, { reusedSocket: req.reusedSocket === true });
      settle(this.#connectionError(method, path, err, "connection"), null);
    });
    req.end();
    return { req, response };
  }
}
