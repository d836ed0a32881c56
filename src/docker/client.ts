/**
 * The one client rdhpf uses for the Docker Engine API: version negotiation,
 * the running containers, one container, and the container event stream,
 * with payloads validated by the schemas and malformed items skipped with a
 * warning. What the endpoints mean lives here; how one HTTP exchange over the
 * local socket works lives in `engine_http.ts`, so this file reads as the API.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { RdhpfError } from "../errors.ts";
import { excerpt, firstIssue, nodeErrorCode, payloadError } from "./engine_errors.ts";
import { EngineHttp, type EngineHttpOptions } from "./engine_http.ts";
import { JsonLineSplitter } from "./json_lines.ts";
import { containerListDigest } from "./list_digest.ts";
import { containerFromInspect, containerFromSummary } from "./ports.ts";
import {
  ContainerInspectSchema,
  ContainerSummarySchema,
  type DockerEvent,
  DockerEventSchema,
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

/** A line of `/events` longer than this is dropped: real events are < 2 KiB. */
const DEFAULT_MAX_EVENT_LINE_BYTES = 1024 * 1024;
/** The malformed-item memory is cleared when it grows past this. */
const MAX_REMEMBERED_MALFORMED = 1000;

/** What `negotiate()` learned about the remote engine. */
export interface EngineInfo {
  serverVersion: string;
  /** The API version every later request is pinned to. */
  apiVersion: string;
  os: string;
  arch: string;
}

/** Options of `EngineClient`. */
export interface EngineClientOptions extends EngineHttpOptions {
  /** Cap per `/events` line; longer lines are skipped. Default 1 MiB. */
  maxEventLineBytes?: number;
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

/** "1.41" → [1, 41] compared numerically. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** HTTP client for the Docker Engine API over a local unix socket. */
export class EngineClient {
  readonly socketPath: string;
  readonly #maxEventLineBytes: number;
  readonly #http: EngineHttp;
  readonly #malformedSeen = new Set<string>();
  #apiVersion: string | null = null;
  #negotiating: Promise<EngineInfo> | null = null;

  constructor(opts: EngineClientOptions) {
    this.socketPath = opts.socketPath;
    this.#maxEventLineBytes = opts.maxEventLineBytes ?? DEFAULT_MAX_EVENT_LINE_BYTES;
    this.#http = new EngineHttp(opts);
  }

  /** The pinned API version, or null before `negotiate()`. */
  get apiVersion(): string | null {
    return this.#apiVersion;
  }

  /** `GET /_ping`: resolves when the Engine answers 200. */
  async ping(): Promise<void> {
    const res = await this.#http.request("GET", "/_ping");
    this.#http.expectOk("GET", "/_ping", res);
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
    const res = await this.#http.request("GET", "/version");
    if (res.status === 400 || res.status === 404) {
      const ping = await this.#http.request("GET", "/_ping");
      const header = ping.headers["api-version"];
      if (typeof header === "string" && /^\d+\.\d+$/.test(header)) {
        const pinned = compareApiVersions(header, MAX_API_VERSION) > 0 ? MAX_API_VERSION : header;
        const path = `/v${pinned}/version`;
        const versioned = await this.#http.request("GET", path);
        this.#http.expectOk("GET", path, versioned);
        return this.#http.parseBody("GET", path, versioned, VersionSchema);
      }
    }
    this.#http.expectOk("GET", "/version", res);
    return this.#http.parseBody("GET", "/version", res, VersionSchema);
  }

  async #versionPrefix(): Promise<string> {
    return `/v${this.#apiVersion ?? (await this.negotiate()).apiVersion}`;
  }

  /**
   * Running containers (`GET /containers/json`). An item that does not
   * validate is skipped, with one warning per container id.
   */
  async listContainers(): Promise<ObservedContainer[]> {
    return (await this.listContainersIfChanged(null)).containers!;
  }

  /**
   * The list, or only its fingerprint (list_digest.ts) when that equals
   * `lastDigest`: `containers` is then null and nothing was parsed.
   */
  async listContainersIfChanged(lastDigest: string | null): Promise<{ digest: string; containers: ObservedContainer[] | null }> {
    const path = `${await this.#versionPrefix()}/containers/json`;
    const res = await this.#http.request("GET", path);
    this.#http.expectOk("GET", path, res);
    const digest = containerListDigest(res.body.toString("utf8"));
    if (digest === lastDigest) return { digest, containers: null };
    const items = this.#http.parseJson("GET", path, res);
    if (!Array.isArray(items)) throw payloadError(this.socketPath, "GET", path, res.status, "expected a JSON array");
    const containers: ObservedContainer[] = [];
    for (const item of items) {
      const parsed = ContainerSummarySchema.safeParse(item);
      if (parsed.success) containers.push(containerFromSummary(parsed.data));
      else this.#reportMalformed(item, firstIssue(parsed.error));
    }
    return { digest, containers };
  }

  /**
   * One container (`GET /containers/{id}/json`); null when it does not exist
   * (404) or is not running, matching what `listContainers` would show.
   */
  async inspectContainer(id: string): Promise<ObservedContainer | null> {
    // Ids and names are [a-zA-Z0-9_.-]; anything else cannot name a container.
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) return null;
    const path = `${await this.#versionPrefix()}/containers/${id}/json`;
    const res = await this.#http.request("GET", path);
    if (res.status === 404) return null;
    this.#http.expectOk("GET", path, res);
    const payload = this.#http.parseBody("GET", path, res, ContainerInspectSchema);
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
    const stream = await this.#http.openStream(path, signal);
    if (!stream) return;
    const { req, res } = stream;
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
      this.#http.endStream(stream);
      log.debug("Docker event stream ended", {
        reason: endReason,
        events_received: received,
        duration_ms: Math.round(performance.now() - startedAt),
      });
    }
  }

  /** Destroys pooled keep-alive sockets and open event streams. */
  close(): void {
    this.#http.close();
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
}
