/**
 * The way to the remote Docker engine, through the SSH master:
 *
 * 1. "socket-forward": the remote engine's unix socket forwarded to a private
 *    local socket (a mux forward request, like `ssh -O forward -L
 *    local.sock:remote.sock`): about 2 ms per
 *    API request and no remote process at all.
 * 2. "dial-stdio": when the server refuses stream-local forwarding or the
 *    endpoint is not a unix socket, a local relay socket whose connections
 *    each run `docker system dial-stdio` on the remote through the master.
 *
 * The endpoint comes from one remote command per connection
 * (`docker context inspect`, 0.5-1.3 s on hosts with a heavy login shell), so
 * the one found last time is tried first and checked afterwards. Only a
 * successful discovery changes it (see docker/endpoint_choice.ts).
 *
 * @module
 */
import { lstatSync, readFileSync, rmSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { type BridgeCounts, chooseEndpoint, type DiscoveryOutcome, ENDPOINT_DISCOVERY_COMMAND, EngineClient, type EngineInfo, parseEndpoint, readDiscovery, startDialStdioRelay } from "../docker/mod.ts";
import { RdhpfError } from "../errors.ts";
import { displaySafe } from "../text_safety.ts";
import type { Mux } from "../ssh/mod.ts";
import type { InstancePaths } from "../paths.ts";
import { writeFileAtomic } from "../atomic_file.ts";

const log = getLogger(["rdhpf", "docker"]);

export type Transport = "socket-forward" | "dial-stdio";

export interface DockerLink {
  client: EngineClient;
  transport: Transport;
  endpoint: string;
  serverVersion: string;
  apiVersion: string;
  /** With dial-stdio: the bridges (remote sessions) in use, queued and allowed; null with a socket forward (channels, no session each). */
  sessions: (() => BridgeCounts) | null;
  close(): Promise<void>;
}

/**
 * A link whose engine has answered. The first request is the version
 * negotiation itself: it proves the way works (a separate `/_ping` first cost
 * one more round trip, 8-48 ms, on every start and reconnect).
 */
type OpenLink = { client: EngineClient; close(): Promise<void>; sessions: (() => BridgeCounts) | null; info: EngineInfo };

const DISCOVERY_TIMEOUT_MS = 20_000;

/** Runs the one remote command: which endpoint would the remote docker CLI use? Never throws. */
export async function discoverEndpoint(mux: Mux): Promise<DiscoveryOutcome> {
  const started = Date.now();
  const outcome = readDiscovery(await mux.run(ENDPOINT_DISCOVERY_COMMAND, DISCOVERY_TIMEOUT_MS).catch((err: Error) => ({
    code: null, signal: null, timedOut: false, stdout: "", stderr: err.message,
  })));
  log.debug("Remote Docker endpoint discovery finished", { outcome: displaySafe(JSON.stringify(outcome), 300), duration_ms: Date.now() - started });
  return outcome;
}

/**
 * The endpoint to open at the start of a connection: the one known (cached
 * or in use) without asking, else a successful discovery. Throws, for a
 * retry with backoff, when nothing is known and discovery failed: guessing
 * the default could reach a different daemon than the user's.
 */
export async function endpointToOpen(mux: Mux, known: string | null): Promise<{ endpoint: string; fromCache: boolean }> {
  if (known !== null) return { endpoint: known, fromCache: true };
  const choice = chooseEndpoint(null, await discoverEndpoint(mux));
  if (choice.kind === "use") return { endpoint: choice.endpoint, fromCache: false };
  throw new RdhpfError(
    `the remote docker CLI did not say which Docker endpoint to use (\`docker context inspect\`: ${displaySafe(choice.reason, 200)}); rdhpf does not guess one`,
    "check that `docker context inspect` works on the remote host for this user (docker CLI installed, DOCKER_HOST or DOCKER_CONTEXT valid)",
  );
}

/** The endpoint cached after the last successful discovery, or null. */
export function readCachedEndpoint(paths: InstancePaths): string | null {
  rmSync(paths.legacyEndpointCache, { force: true });
  try {
    return readFileSync(paths.endpointCache, "utf8").trim() || null;
  } catch {
    return null;
  }
}

function isSocketFile(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

async function viaSocketForward(mux: Mux, paths: InstancePaths, remotePath: string): Promise<OpenLink | null> {
  // An adopted master may still hold this forward (its predecessor was
  // SIGKILLed): ssh would answer a new one "ok" without listening again, so
  // it is cancelled first. Costs one mux call, only when the file is there.
  if (isSocketFile(paths.dockerSocket)) await mux.cancelSocket(paths.dockerSocket, remotePath).catch(() => undefined);
  rmSync(paths.dockerSocket, { force: true });
  try {
    await mux.forwardSocket(paths.dockerSocket, remotePath);
  } catch (err) {
    log.info("Forwarding the remote Docker socket failed; trying docker system dial-stdio", { error: (err as Error).message });
    return null;
  }
  const client = new EngineClient({ socketPath: paths.dockerSocket });
  const close = async () => {
    client.close();
    await mux.cancelSocket(paths.dockerSocket, remotePath).catch(() => undefined);
    rmSync(paths.dockerSocket, { force: true });
  };
  try {
    return { client, close, sessions: null, info: await client.negotiate() };
  } catch (err) {
    await close();
    // An engine that answered but is too old (or too new) is no transport problem.
    if (err instanceof RdhpfError && err.exitCode === 2) throw err;
    // sshd with `AllowStreamLocalForwarding no` accepts the forward but
    // closes every connection made through it: only a request tells.
    log.info("Remote Docker socket not reachable through a socket forward; trying docker system dial-stdio", { error: (err as Error).message });
    return null;
  }
}

async function viaDialStdio(mux: Mux, paths: InstancePaths, maxSessions: number | undefined): Promise<OpenLink> {
  rmSync(paths.dockerSocket, { force: true });
  const relay = await startDialStdioRelay({ socketPath: paths.dockerSocket, spawnBridge: () => mux.spawn(["docker", "system", "dial-stdio"]), maxBridges: maxSessions });
  // Not kept alive: an idle pooled connection would hold one of the few sessions (see relay.ts).
  const client = new EngineClient({ socketPath: paths.dockerSocket, requestTimeoutMs: 15_000, keepAlive: false });
  const close = async () => {
    client.close();
    await relay.close();
    rmSync(paths.dockerSocket, { force: true });
  };
  try {
    return { client, close, sessions: () => relay.counts(), info: await client.negotiate() };
  } catch (err) {
    await close();
    if (err instanceof RdhpfError) throw err;
    throw new RdhpfError(
      `cannot reach the remote Docker engine: ${(err as Error).message}`,
      "check that `docker version` works on the remote host for this user",
    );
  }
}

/**
 * Opens the Docker link on a given endpoint, preferring the socket forward.
 * `maxSessions` bounds the dial-stdio bridges (see docker/relay.ts).
 */
export async function openDockerLink(mux: Mux, paths: InstancePaths, endpoint: string, maxSessions?: number): Promise<DockerLink> {
  const ep = parseEndpoint(endpoint);
  let transport: Transport = "socket-forward";
  let link = ep.kind === "unix" ? await viaSocketForward(mux, paths, ep.path) : null;
  if (!link) {
    transport = "dial-stdio";
    link = await viaDialStdio(mux, paths, maxSessions);
  }
  try {
    writeFileAtomic(paths.endpointCache, `${endpoint}\n`);
  } catch (err) {
    await link.close();
    throw err;
  }
  const { client, close, sessions, info } = link;
  return { client, close, sessions, transport, endpoint, serverVersion: info.serverVersion, apiVersion: info.apiVersion };
}
