/**
 * The doctor's probes: they gather `DoctorFacts` for the pure verdicts in
 * checks.ts. Every probe is bounded in time; the doctor opens exactly one
 * SSH connection (its own ControlMaster on a private socket, ended before it
 * returns), runs everything else through it, and never writes known_hosts:
 * BatchMode, the user's host key policy, except that a policy that would
 * add keys silently (accept-new, no) is checked strictly, and
 * UpdateHostKeys=no.
 *
 * Over 300 lines as one concept: the doctor's probes, one per check, in check order.
 *
 * @module
 */
import { connects } from "../connects.ts";
import { existsSync, lstatSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { currentUid, endpointToOpen, openDockerLink, privateDirVerdict, type ResolvedInstance, resolveInstance, type SshCliOptions } from "../daemon/mod.ts";
import { dockerClientSocketPath, instancePaths, type InstancePaths, runtimeDir } from "../paths.ts";
import { DEFAULT_MAX_BRIDGES, EngineClient, type ObservedContainer, parseEndpoint } from "../docker/mod.ts";
import { RdhpfError } from "../errors.ts";
import { desiredForwards, listenAddresses, localPortProbe, type OnConflict, type PortRules } from "../forward/mod.ts";
import { defaultTargetFromEnv, lintSshConfig, Mux, readUserSshConfig, runSsh, SshConnectError, type SshContext, sshGValues, SshMaster } from "../ssh/mod.ts";
import { queryInstance } from "../status/mod.ts";
import { displaySafe } from "../text_safety.ts";
import { type BusyPort, buildReport, CONTROL_PATH_TEMP_SUFFIX_BYTES, type DoctorFacts, maxSocketPathBytes, type Problem } from "./checks.ts";
import type { DoctorReport } from "./report.ts";
import { parseSshdSettings, SSHD_SETTINGS_COMMAND, type SshdSettings } from "./sshd_settings.ts";

/** What `runDoctor` needs. */
export interface DoctorOptions {
  /** TARGET as given; undefined for the defaults ($RDHPF_HOST, an ssh:// $DOCKER_HOST). */
  host: string | undefined;
  /** Where `host` came from, for the report: "--host", "config file". */
  hostSource: string;
  /** -F and validated -o options. */
  ssh: SshCliOptions;
  /** Port rules, to know which local ports rdhpf would take. */
  rules: PortRules;
  /** Validated --bind addresses; empty for the default loopbacks. */
  binds: string[];
  /** What `rdhpf run` does with a busy local port. */
  onConflict: OnConflict;
  /** --max-forwards, so that the ports checked are the ones `rdhpf run` would take. */
  maxForwards?: number;
  /** Where `rdhpf run` would serve its Docker socket: a path, "default", or false (--no-docker-socket). */
  dockerSocket?: string | false;
  /** `--max-docker-sessions` of `rdhpf run`. */
  maxDockerSessions?: number;
  env: Record<string, string | undefined>;
  rdhpfVersion: string;
  /** Whether this machine can listen on ::1 (the same test `rdhpf run` makes). */
  hasIpv6Loopback: () => Promise<boolean>;
}

/** Bounds of the probes (ms). The master's own bound (ConnectTimeout 10 s) lies inside `connect`. */
const TIMEOUTS = { sshVersion: 5000, sshG: 5000, connect: 15_000, docker: 45_000, sshdSettings: 10_000, agent: 1000, instance: 500, socketPing: 10_000 };

function problemOf(err: unknown): Problem {
  if (err instanceof RdhpfError) return { message: err.message, hint: err.hint };
  return { message: err instanceof Error ? err.message : String(err), hint: null };
}

/** Resolves with `fallback()` when `p` takes longer than `ms`. */
function bounded<T>(p: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback()), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function probeSshClient(sshBinary: string): Promise<DoctorFacts["sshClient"]> {
  const ctx: SshContext = { sshBinary, configFile: null, options: [], target: { raw: "", user: null, host: "", port: null }, controlPath: "" };
  try {
    const r = await runSsh({ kind: "version" }, ctx, { timeoutMs: TIMEOUTS.sshVersion });
    const line = `${r.stderr}\n${r.stdout}`.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== "") ?? "";
    if (r.code !== 0 || !/^OpenSSH/i.test(line)) {
      return { problem: { message: `${sshBinary} -V printed ${JSON.stringify(displaySafe(line, 120))} (exit ${r.code})`, hint: "rdhpf needs the OpenSSH client (Debian: apt-get install openssh-client)" } };
    }
    return { version: displaySafe(line, 200) };
  } catch (err) {
    return { problem: problemOf(err) };
  }
}

/** `~/` and `%d` as ssh expands them: the passwd home, not $HOME. */
function expandHome(path: string): string {
  const home = userInfo().homedir;
  return path.replace(/^~(?=\/)/, home).replace(/%d/g, home);
}

async function probeAgent(g: Map<string, string[]>, env: Record<string, string | undefined>): Promise<DoctorFacts["agent"]> {
  const keyFiles = (g.get("identityfile") ?? []).map(expandHome).filter((f) => !f.includes("%") && existsSync(f));
  const configured = g.get("identityagent")?.[0];
  let socket: string | null = null;
  let source: DoctorFacts["agent"]["source"] = null;
  if (configured !== undefined && !/^none$/i.test(configured)) {
    const viaEnv = /^\$?SSH_AUTH_SOCK$/.test(configured);
    socket = viaEnv ? env.SSH_AUTH_SOCK ?? null : expandHome(configured);
    source = viaEnv ? "SSH_AUTH_SOCK" : "IdentityAgent";
  } else if (configured === undefined && env.SSH_AUTH_SOCK) {
    socket = env.SSH_AUTH_SOCK;
    source = "SSH_AUTH_SOCK";
  }
  const reachable = socket === null ? null : await connects({ path: socket }, TIMEOUTS.agent);
  return { socket, source, reachable, keyFiles };
}

function socketPathFacts(paths: InstancePaths, platform: string): DoctorFacts["socketPaths"] {
  const max = maxSocketPathBytes(platform);
  return [
    // ssh creates the ControlPath under a temporary name 17 bytes longer, then renames it.
    { path: paths.controlSocket, bytes: Buffer.byteLength(paths.controlSocket) + CONTROL_PATH_TEMP_SUFFIX_BYTES, maxBytes: max },
    { path: paths.dockerSocket, bytes: Buffer.byteLength(paths.dockerSocket), maxBytes: max },
    { path: paths.controlApiSocket, bytes: Buffer.byteLength(paths.controlApiSocket), maxBytes: max },
  ];
}

function runtimeDirFacts(dir: string): DoctorFacts["runtimeDir"] {
  let st: { uid: number; mode: number };
  try {
    st = statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { dir, state: "missing" };
    return { dir, problem: { message: `cannot read runtime dir ${dir}: ${(err as Error).message}`, hint: "set RDHPF_STATE_DIR to a directory of your own" } };
  }
  const verdict = privateDirVerdict(dir, st, currentUid());
  return verdict instanceof RdhpfError ? { dir, problem: problemOf(verdict) } : { dir, state: verdict };
}

async function instanceFacts(paths: InstancePaths): Promise<DoctorFacts["instance"]> {
  try {
    const view = await queryInstance(paths, TIMEOUTS.instance);
    if (view === null) return null;
    if (view.live) {
      const active = view.doc.forwards.filter((f) => f.state === "active").map((f) => f.local_port);
      return { live: true, pid: view.doc.pid, state: view.doc.state, lastError: view.doc.last_error, activeLocalPorts: active, clientSocket: view.doc.docker.client_socket };
    }
    // A stopped instance that left its state file is as good as none.
    return view.unresponsive ? { live: false, pid: view.doc.pid, unresponsive: true, staleAgeS: view.staleAgeS } : { live: false, pid: view.doc.pid, unresponsive: false, staleAgeS: view.staleAgeS };
  } catch {
    return null;
  }
}

/**
 * Runs `cleanup` and exits 130/143 on SIGINT/SIGTERM (Ctrl+C, a CI job
 * cancelled), so an interrupted doctor leaves no connection and no directory.
 * Returns the function that removes the handlers.
 */
function onInterrupt(cleanup: () => void): () => void {
  const handler = (signal: NodeJS.Signals) => {
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

/** A directory with a short path for the doctor's own sockets (macOS $TMPDIR is too long for them). */
function privateProbeDir(): string {
  return mkdtempSync(join(existsSync("/tmp") ? "/tmp" : tmpdir(), "rdhpf-doctor-"));
}

/**
 * rdhpf's Docker socket as a client finds it: the file, its directory, and a
 * `GET /_ping` through it (through the running rdhpf's link to the remote).
 */
async function dockerSocketFacts(running: DoctorFacts["instance"], wouldServe: string | false): Promise<DoctorFacts["dockerSocket"]> {
  if (!running?.live) return { served: false, path: wouldServe === false ? "off" : wouldServe };
  const path = running.clientSocket ?? null;
  if (path === null) return { served: false, path: "off" };
  let file: { isSocket: boolean; mode: number } | null = null;
  try {
    const st = lstatSync(path);
    file = { isSocket: st.isSocket(), mode: st.mode };
  } catch {
    // nothing there
  }
  let dir: string;
  try {
    const st = statSync(dirname(path));
    const verdict = privateDirVerdict(dirname(path), st, currentUid());
    dir = verdict === "ok" ? "ok" : verdict === "tighten" ? `mode ${(st.mode & 0o777).toString(8)}` : verdict.message;
  } catch (err) {
    dir = (err as Error).message;
  }
  if (file === null || !file.isSocket) return { served: true, path, file, dir, ping: { ok: false, error: "not a socket" } };
  const client = new EngineClient({ socketPath: path, requestTimeoutMs: TIMEOUTS.socketPing });
  const started = performance.now();
  try {
    await client.ping();
    return { served: true, path, file, dir, ping: { ok: true, durationMs: Math.round(performance.now() - started) } };
  } catch (err) {
    return { served: true, path, file, dir, ping: { ok: false, error: displaySafe((err as Error).message, 300) } };
  } finally {
    client.close();
  }
}

interface RemoteFacts {
  docker: NonNullable<DoctorFacts["docker"]>;
  containers: ObservedContainer[];
  sshd: SshdSettings;
}

async function probeDocker(mux: Mux, paths: InstancePaths): Promise<{ docker: RemoteFacts["docker"]; containers: ObservedContainer[] }> {
  let endpoint: string | null = null;
  try {
    // The doctor knows no endpoint: it asks the remote CLI, and a failed answer is reported, not guessed.
    const found = (await endpointToOpen(mux, null)).endpoint;
    endpoint = found;
    const link = await openDockerLink(mux, paths, found);
    try {
      const containers = await link.client.listContainers();
      // A port bound on 0.0.0.0 and :: is listed twice by the Engine; it is one port.
      const published = new Set(containers.flatMap((c) => c.ports.filter((p) => p.protocol === "tcp").map((p) => `${c.id}/${p.publicPort}`))).size;
      return {
        docker: { ok: true, endpoint: found, endpointKind: parseEndpoint(found).kind, transport: link.transport, serverVersion: link.serverVersion, apiVersion: link.apiVersion, publishedTcpPorts: published },
        containers,
      };
    } finally {
      await link.close();
    }
  } catch (err) {
    return { docker: { ok: false, endpoint, problem: problemOf(err) }, containers: [] };
  }
}

async function probeSshd(mux: Mux): Promise<SshdSettings> {
  const r = await mux.run(SSHD_SETTINGS_COMMAND, TIMEOUTS.sshdSettings);
  if (r.failure) return { known: false, configFile: null, reason: r.failure.message || r.failure.kind };
  return parseSshdSettings(r.stdout);
}

/** Runs the remote probes over one ControlMaster of the doctor's own, and ends it. */
async function probeRemote(ctx: SshContext, paths: InstancePaths, created: (master: SshMaster) => void): Promise<{ connection: NonNullable<DoctorFacts["connection"]>; remote: RemoteFacts | null }> {
  const master = new SshMaster(ctx, { readyTimeoutMs: TIMEOUTS.connect });
  created(master);
  const startedMs = performance.now();
  try {
    try {
      await master.start();
    } catch (err) {
      const kind = err instanceof SshConnectError ? err.kind : "unknown";
      return { connection: { ok: false, kind, problem: problemOf(err) }, remote: null };
    }
    const connection = { ok: true as const, durationMs: Math.round(performance.now() - startedMs) };
    const mux = new Mux(ctx, { masterLog: master });
    const [docker, sshd] = await Promise.all([
      bounded(probeDocker(mux, paths), TIMEOUTS.docker, () => ({
        docker: { ok: false as const, endpoint: null, problem: { message: `no answer from the remote Docker engine within ${TIMEOUTS.docker / 1000} s`, hint: "check that `docker version` works on the remote host for this user" } },
        containers: [],
      })),
      bounded(probeSshd(mux), TIMEOUTS.sshdSettings + 2000, (): SshdSettings => ({ known: false, configFile: null, reason: "no answer in time" })),
    ]);
    return { connection, remote: { ...docker, sshd } };
  } finally {
    await master.stop();
  }
}

async function probePorts(containers: ObservedContainer[], opts: DoctorOptions, ipv6: boolean, instance: DoctorFacts["instance"]): Promise<NonNullable<DoctorFacts["ports"]>> {
  const wanted = desiredForwards(containers, opts.rules, opts.maxForwards).filter((d) => d.disposition === "wanted");
  const held = new Set(instance?.live ? instance.activeLocalPorts : []);
  const probe = localPortProbe(listenAddresses(opts.binds, ipv6));
  const busy: BusyPort[] = [];
  for (const d of wanted) {
    if (held.has(d.localPort) || (await probe.isFree(d.localPort))) continue;
    busy.push({ localPort: d.localPort, remotePort: d.remotePort, containerName: d.containerName, owner: await probe.owner(d.localPort) });
  }
  return { wanted: wanted.length, busy, onConflict: opts.onConflict };
}

/** Runs every check and returns the report. Never throws for what it checks; each finding becomes a check result. */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  // Installed before the first ssh (-V, -G) runs, so Ctrl+C at any moment exits 130/143
  // and undoes whatever has been set up by then.
  const cleanups: Array<() => void> = [];
  const removeHandlers = onInterrupt(() => {
    for (const cleanup of cleanups.reverse()) cleanup();
  });
  try {
    return await checkEverything(opts, cleanups);
  } finally {
    removeHandlers();
  }
}

async function checkEverything(opts: DoctorOptions, cleanups: Array<() => void>): Promise<DoctorReport> {
  const env = opts.env;
  const platform = process.platform;
  const sshBinary = env.RDHPF_SSH ?? "ssh";
  const [sshClient, ipv6Loopback] = await Promise.all([probeSshClient(sshBinary), opts.hasIpv6Loopback()]);
  const facts: DoctorFacts = {
    rdhpfVersion: opts.rdhpfVersion,
    platform,
    sshClient,
    target: { raw: opts.host ?? defaultTargetFromEnv(env)?.raw ?? null, problem: { message: "not resolved", hint: null } },
    sshConfigFindings: null,
    strictHostKeyChecking: null,
    connection: null,
    docker: null,
    ipv6Loopback,
    sshd: null,
    agent: { socket: null, source: null, reachable: null, keyFiles: [] },
    socketPaths: [],
    runtimeDir: runtimeDirFacts(runtimeDir(env)),
    instance: null,
    dockerSocket: null,
    maxDockerSessions: opts.maxDockerSessions ?? DEFAULT_MAX_BRIDGES,
    ports: null,
  };

  let instance: ResolvedInstance;
  try {
    instance = await resolveInstance(opts.host, opts.ssh, env);
  } catch (err) {
    facts.target = { raw: facts.target.raw, problem: problemOf(err) };
    return buildReport(facts);
  }
  const source = opts.host !== undefined ? opts.hostSource : defaultTargetFromEnv(env)?.source ?? "the current docker context";
  facts.target = { raw: instance.target.raw, source, identity: instance.identity, resolved: instance.resolved };

  const g = await runSsh({ kind: "resolve" }, instance.ssh, { timeoutMs: TIMEOUTS.sshG }).then((r) => sshGValues(r.stdout), () => new Map<string, string[]>());
  facts.strictHostKeyChecking = g.get("stricthostkeychecking")?.[0] ?? null;
  facts.sshConfigFindings = lintSshConfig(readUserSshConfig(instance.ssh.configFile ?? undefined) ?? "", instance.target.host, instance.target.user ?? undefined);
  facts.socketPaths = socketPathFacts(instance.paths, platform);
  const [agent, running] = await Promise.all([probeAgent(g, env), instanceFacts(instance.paths)]);
  facts.agent = agent;
  facts.instance = running;
  const setting = opts.dockerSocket ?? "default";
  facts.dockerSocket = await dockerSocketFacts(running, setting === "default" ? dockerClientSocketPath(instance.paths.dir, instance.target) : setting);

  // Options first: ssh keeps the first value it sees, so these beat the user's -o and config.
  const strict = facts.strictHostKeyChecking === null || /^(yes|true|ask)$/i.test(facts.strictHostKeyChecking) ? [] : ["StrictHostKeyChecking=yes"];
  const dir = privateProbeDir();
  let master: SshMaster | null = null;
  cleanups.push(() => {
    master?.terminateNow();
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const paths = instancePaths(dir, instance.identity);
    const ctx: SshContext = { ...instance.ssh, controlPath: paths.controlSocket, options: ["UpdateHostKeys=no", ...strict, ...instance.ssh.options] };
    const { connection, remote } = await probeRemote(ctx, paths, (m) => (master = m));
    facts.connection = connection;
    if (remote) {
      facts.docker = remote.docker;
      facts.sshd = remote.sshd;
      if (remote.docker.ok) facts.ports = await probePorts(remote.containers, opts, ipv6Loopback, facts.instance);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return buildReport(facts);
}
