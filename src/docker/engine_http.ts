/**
 * The transport under the Engine API client: one HTTP exchange over the
 * LOCAL unix socket that reaches the remote Engine (the remote socket
 * forwarded through the SSH master, or the dial-stdio relay), so a request
 * costs about 2 ms instead of the 0.5-1.3 s of a remote docker CLI command.
 * It knows sockets, deadlines and bodies, not what the Engine's endpoints
 * mean; `client.ts` builds the API on top, and `engine_errors.ts` words the
 * failures.
 *
 * Kept apart so that the rules of the wire (settle exactly once, a deadline
 * on every request, one retry on a pooled socket the Engine closed while
 * idle, a bounded body, a stream on its own connection) live in one place
 * and the API file reads as the API.
 *
 * @module
 */
import http from "node:http";
import { getLogger } from "@logtape/logtape";
import { connectionError, EngineApiError, excerpt, firstIssue, httpError, payloadError, timeoutError } from "./engine_errors.ts";

const log = getLogger(["rdhpf", "docker"]);

const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** Bound on a plain response body (a container list with huge labels). */
const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** A complete answer to a plain request. */
export interface EngineResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** An open event stream: its own request and the response being read. */
export interface EngineStream {
  req: http.ClientRequest;
  res: http.IncomingMessage;
}

/** Options of `EngineHttp`. */
export interface EngineHttpOptions {
  /** Local unix socket that reaches the Engine. */
  socketPath: string;
  /** Bound on a plain request, and on the wait for a stream's headers. Default 5000. */
  requestTimeoutMs?: number;
  /** Cap on a plain response body. Default 64 MiB. */
  maxBodyBytes?: number;
  /**
   * Keep plain requests' connections open for the next one. Default true.
   * False closes each after its response: over dial-stdio an idle pooled
   * connection would hold a remote SSH session that the user's clients need.
   */
  keepAlive?: boolean;
}

/** A zod-like schema: all `parseBody` needs. */
interface Schema<T> {
  safeParse(v: unknown): { success: true; data: T } | { success: false; error: Parameters<typeof firstIssue>[0] };
}

/**
 * HTTP over one local unix socket. Plain requests share a keep-alive pool;
 * every stream gets its own connection so that it never holds a pooled
 * socket hostage.
 */
export class EngineHttp {
  readonly socketPath: string;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #agent: http.Agent;
  readonly #keepAlive: boolean;
  readonly #streams = new Set<http.ClientRequest>();
  #closed = false;

  constructor(opts: EngineHttpOptions) {
    this.socketPath = opts.socketPath;
    this.#timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#keepAlive = opts.keepAlive ?? true;
    this.#agent = new http.Agent({ keepAlive: this.#keepAlive, maxSockets: 8 });
  }

  /** Destroys pooled keep-alive sockets and open streams; later requests fail. */
  close(): void {
    this.#closed = true;
    for (const req of this.#streams) req.destroy();
    this.#streams.clear();
    this.#agent.destroy();
  }

  /** The response body as JSON; a payload error when it is not JSON. */
  parseJson(method: string, path: string, res: EngineResponse): unknown {
    try {
      return JSON.parse(res.body.toString("utf8"));
    } catch (err) {
      throw payloadError(this.socketPath, method, path, res.status, `not JSON (${excerpt(String(err))})`);
    }
  }

  /** The response body validated by `schema`; a payload error naming the first issue otherwise. */
  parseBody<T>(method: string, path: string, res: EngineResponse, schema: Schema<T>): T {
    const parsed = schema.safeParse(this.parseJson(method, path, res));
    if (!parsed.success) throw payloadError(this.socketPath, method, path, res.status, firstIssue(parsed.error));
    return parsed.data;
  }

  /** Throws the HTTP error of a non-2xx response. */
  expectOk(method: string, path: string, res: EngineResponse): void {
    if (res.status >= 200 && res.status < 300) return;
    throw httpError(this.socketPath, method, path, res.status, res.body);
  }

  #assertOpen(method: string, path: string): void {
    if (this.#closed) {
      throw new EngineApiError(`Docker Engine API ${method} ${path} on ${this.socketPath}: client closed`, null, "connection", this.socketPath, method, path, null);
    }
  }

  /** One plain request on the keep-alive pool, its whole body read (bounded). Any status resolves. */
  async request(method: string, path: string): Promise<EngineResponse> {
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

  #requestOnce(method: string, path: string): Promise<EngineResponse> {
    const started = performance.now();
    const elapsedMs = () => Math.round((performance.now() - started) * 100) / 100;
    const { response } = this.#exchange<EngineResponse>(method, path, { agent: this.#keepAlive ? this.#agent : false, accept: "application/json", close: !this.#keepAlive }, (res, req, done) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > this.#maxBodyBytes) {
          req.destroy();
          done(payloadError(this.socketPath, method, path, res.statusCode ?? 0, `body larger than ${this.#maxBodyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => done(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", (err) => done(connectionError(this.socketPath, method, path, err)));
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

  /**
   * Opens a stream (`GET path`) on its own connection and resolves once a
   * 200 arrived; an HTTP error carries a bounded excerpt of the error body.
   * Null when `signal` aborted first. The stream is held until `endStream`,
   * so that `close()` can end it while it is live.
   */
  openStream(path: string, signal: AbortSignal): Promise<EngineStream | null> {
    const started = performance.now();
    const accept = "application/x-ndjson, application/json";
    const { req, response } = this.#exchange<EngineStream>("GET", path, { agent: false, accept, signal }, (res, req, done) => {
      const status = res.statusCode ?? 0;
      log.debug("Engine API request", { method: "GET", path, status, duration_ms: Math.round(performance.now() - started) });
      if (status === 200) return done(null, { req, res });
      // Read a bounded excerpt of the error body, then fail.
      const chunks: Buffer[] = [];
      let bytes = 0;
      const fail = () => {
        req.destroy();
        done(httpError(this.socketPath, "GET", path, status, Buffer.concat(chunks)));
      };
      res.on("data", (c: Buffer) => {
        if (bytes < 4096) chunks.push(c);
        bytes += c.length;
      });
      res.on("end", fail);
      res.on("error", fail);
    });
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

  /** Ends a stream from `openStream`: destroys its connection and forgets it. */
  endStream(stream: EngineStream): void {
    stream.req.destroy();
    this.#streams.delete(stream.req);
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
    opts: { agent: http.Agent | false; accept: string; signal?: AbortSignal; close?: boolean },
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
      { socketPath: this.socketPath, path, method, agent: opts.agent, headers: { Host: "docker", Accept: opts.accept, ...(opts.close ? { Connection: "close" } : {}) } },
      (res) => onResponse(res, req, (err, value) => settle(err, value ?? null)),
    );
    onAbort = () => {
      req.destroy();
      settle(null, null);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(() => {
      req.destroy();
      settle(timeoutError(this.socketPath, method, path, this.#timeoutMs), null);
    }, this.#timeoutMs);
    req.on("error", (err) => {
      if (signal?.aborted) return settle(null, null);
      // Remember whether the failed socket came from the pool (see request()).
      Object.assign(err, { reusedSocket: req.reusedSocket === true });
      settle(connectionError(this.socketPath, method, path, err), null);
    });
    req.end();
    return { req, response };
  }
}
