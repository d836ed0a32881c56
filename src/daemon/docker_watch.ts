/**
 * The Docker side of one SSH session: keeps a Docker link (docker_link.ts)
 * and its event stream up while the session lives, and turns what it sees
 * into reconcile requests. A broken link is retried with backoff capped at
 * 5 s; the SSH session is not its business (the engine ends that).
 *
 * The event stream is opened *before* the first list, so nothing that
 * happens between the two is lost. An open stream asks for a full list; each
 * container lifecycle event asks for a reconcile of just the container it
 * names (the informer pattern, see reconciler.ts).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { chooseEndpoint, containerEventEffect, type DiscoveryOutcome } from "../docker/mod.ts";
import { RdhpfError } from "../errors.ts";
import type { InstancePaths } from "../paths.ts";
import type { Mux } from "../ssh/mod.ts";
import { displaySafe } from "../text_safety.ts";
import { sleep } from "../sleep.ts";
import { writeFileAtomic } from "../atomic_file.ts";
import { backoffDelayMs } from "./backoff.ts";
import { type DockerLink, discoverEndpoint, endpointToOpen, openDockerLink, readCachedEndpoint } from "./docker_link.ts";
import { monotonicNowMs } from "./monotonic_clock.ts";
import type { ReconcileTrigger } from "./reconciler.ts";
import type { StatusStore } from "./status_store.ts";

const log = getLogger(["rdhpf", "engine"]);

const DOCKER_RETRY_CAP_MS = 5_000;
export class DockerWatch {
  private link: DockerLink | null = null;

  constructor(
    private readonly mux: Mux,
    private readonly paths: InstancePaths,
    private readonly store: StatusStore,
    /** Asks for a reconcile: a full list when a stream opens, one container per lifecycle event. */
    private readonly requestReconcile: (trigger: ReconcileTrigger) => void,
    /** Writes the status out. */
    private readonly publish: () => void,
    /** Told the private socket of each new link, and null when it closes (rdhpf's Docker socket relays there). */
    private readonly onLink: (socketPath: string | null) => void = () => undefined,
    /** Most dial-stdio sessions at once (docker/relay.ts); undefined: the relay's default. */
    private readonly maxDockerSessions?: number,
  ) {}

  /** The link in use, or null between two. */
  get current(): DockerLink | null {
    return this.link;
  }

  /** Keeps a link and its event stream up until `signal` aborts; `onHealthy` when a stream is live. */
  async run(signal: AbortSignal, onHealthy: () => void): Promise<void> {
    let failures = 0;
    let rechecked = false;
    /** The re-check's remote command, started with the first link attempt and judged once a link is open. */
    let recheck: Promise<DiscoveryOutcome> | null = null;
    while (!signal.aborted) {
      let lastError = "Docker event stream interrupted";
      try {
        const { endpoint, fromCache } = await endpointToOpen(this.mux, this.knownEndpoint());
        if (signal.aborted) return;
        // Started at once: besides checking the cached endpoint, the remote
        // command's session makes sshd turn Nagle off on the connection
        // (sshd sets TCP_NODELAY only when a session starts), which spares
        // the Docker requests right after the connect a ~40 ms stall.
        if (fromCache && !rechecked) recheck ??= discoverEndpoint(this.mux);
        this.link = await openDockerLink(this.mux, this.paths, endpoint, this.maxDockerSessions);
        // Ended while the link opened (a shutdown right after a reconnect's
        // forwards came back): no stream, the link closes below.
        if (signal.aborted) return;
        const d = this.link;
        this.onLink(this.paths.dockerSocket);
        this.store.dockerLinked({ serverVersion: d.serverVersion, apiVersion: d.apiVersion, transport: d.transport, endpoint: d.endpoint });
        log.info("Docker daemon connectivity validated", { docker_version: d.serverVersion, api_version: d.apiVersion, transport: d.transport, endpoint: d.endpoint });
        if (recheck) {
          rechecked = true;
          void this.recheckEndpoint(endpoint, recheck, signal);
          recheck = null;
        }
        await this.streamEvents(d, signal, () => {
          failures = 0;
          onHealthy();
        });
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof RdhpfError) lastError = err.hint ? `${err.message}; ${err.hint}` : err.message;
        log.warn("Docker link failed; retrying", { error: (err as Error).message, hint: (err as RdhpfError).hint ?? null, retry_in_ms: backoffDelayMs(failures, DOCKER_RETRY_CAP_MS) });
      } finally {
        await this.close();
      }
      if (signal.aborted) return;
      this.store.eventStreamRestarted();
      this.store.enter("degraded", lastError);
      this.publish();
      await sleep(backoffDelayMs(failures++, DOCKER_RETRY_CAP_MS), signal);
    }
  }

  /** Closes the link; a stream reading from it ends. */
  async close(): Promise<void> {
    const d = this.link;
    this.link = null;
    this.onLink(null);
    this.store.dockerUnlinked();
    if (d) await d.close().catch(() => undefined);
  }

  /** The endpoint last used: the cache, or this process's memory of it when the cache is unreadable. */
  private knownEndpoint(): string | null {
    return readCachedEndpoint(this.paths) ?? this.store.dockerEndpoint;
  }

  /**
   * The endpoint used from the cache is checked once per connection. Only a
   * successful discovery that reports another endpoint switches (the link
   * restarts on it); a failed one keeps the endpoint and the cache.
   */
  private async recheckEndpoint(used: string, discovery: Promise<DiscoveryOutcome>, signal: AbortSignal): Promise<void> {
    const choice = chooseEndpoint(used, await discovery);
    if (signal.aborted) return;
    if (choice.kind === "keep") {
      log.warn("Could not re-check the remote Docker endpoint; keeping the last known one", { endpoint: used, reason: displaySafe(choice.reason, 200) });
    } else if (choice.kind === "use" && choice.changedFrom !== null) {
      log.info("Remote Docker endpoint changed; switching", { from: choice.changedFrom, to: choice.endpoint });
      try {
        writeFileAtomic(this.paths.endpointCache, `${choice.endpoint}\n`);
      } catch (err) {
        log.warn("Could not write the endpoint cache", { path: this.paths.endpointCache, error: (err as Error).message });
      }
      this.store.dockerEndpointMoved(choice.endpoint);
      await this.close();
    }
  }

  /** Streams events until the stream ends. */
  private async streamEvents(link: DockerLink, signal: AbortSignal, onOpen: () => void): Promise<void> {
    const started = Date.now();
    let received = 0;
    let firstAt: number | null = null;
    const streamAbort = new AbortController();
    const stop = () => streamAbort.abort();
    signal.addEventListener("abort", stop, { once: true });
    if (signal.aborted) stop();
    // close() (endpoint change) ends the stream by closing the client.
    try {
      for await (const event of link.client.events({
        signal: streamAbort.signal,
        onOpen: () => {
          log.info("docker events stream started", { startup_duration_ms: Date.now() - started });
          this.store.enter("connected", null);
          this.publish();
          onOpen();
          this.requestReconcile({ kind: "list" });
        },
      })) {
        const now = Date.now();
        received++;
        this.store.dockerEvent(now);
        const arrivedMs = monotonicNowMs();
        if (firstAt === null) {
          firstAt = now;
          log.info("First Docker event received", { time_since_start_ms: now - started });
        }
        const change = containerEventEffect(event);
        if (change) this.requestReconcile({ kind: "event", id: change.id, effect: change.effect, atMs: arrivedMs });
        if (this.link !== link) break;
      }
    } finally {
      signal.removeEventListener("abort", stop);
      log.info("docker events stream ended", { total_duration_ms: Date.now() - started, events_received: received });
    }
  }
}
