/**
 * The doctor's verdicts: what the probes found (`DoctorFacts`) in, one
 * result per check out, with the next step for anything not ok. Pure; the
 * probes live in run_doctor.ts.
 *
 * Over 300 lines as one concept: the doctor's verdicts, one pure function per check.
 *
 * @module
 */
import type { OnConflict } from "../forward/mod.ts";
import type { SshConfigFinding, SshErrorKind } from "../ssh/mod.ts";
import { type CheckId, CheckIdSchema, type CheckResult, type CheckStatus, type DoctorReport, doctorExitCode, summarize } from "./report.ts";
import type { SshdSettings } from "./sshd_settings.ts";

/** A failure as the doctor reports it. */
export interface Problem {
  message: string;
  hint: string | null;
}

/** A local port a wanted forward needs, and who holds it. */
export interface BusyPort {
  localPort: number;
  remotePort: number;
  containerName: string;
  /** "pid 812 (postgres)", or null when the owner is not visible. */
  owner: string | null;
}

/** Everything the probes found out; null where a probe did not run. */
export interface DoctorFacts {
  rdhpfVersion: string;
  /** process.platform of this machine. */
  platform: string;
  sshClient: { version: string } | { problem: Problem };
  target:
    | { raw: string; source: string; identity: string; resolved: { user: string; hostname: string; port: number } }
    | { raw: string | null; problem: Problem };
  /** Settings in the user's ssh config that fight rdhpf (config_lint.ts). */
  sshConfigFindings: SshConfigFinding[] | null;
  /** Effective StrictHostKeyChecking (`ssh -G`), e.g. "true", "ask", "accept-new". */
  strictHostKeyChecking: string | null;
  connection: null | { ok: true; durationMs: number } | { ok: false; kind: SshErrorKind; problem: Problem };
  docker:
    | null
    | { ok: true; endpoint: string; endpointKind: string; transport: "socket-forward" | "dial-stdio"; serverVersion: string; apiVersion: string; publishedTcpPorts: number }
    | { ok: false; endpoint: string | null; problem: Problem };
  ipv6Loopback: boolean;
  sshd: SshdSettings | null;
  agent: {
    /** The agent socket ssh would use (IdentityAgent, else $SSH_AUTH_SOCK); null for none. */
    socket: string | null;
    source: "IdentityAgent" | "SSH_AUTH_SOCK" | null;
    reachable: boolean | null;
    /** Identity files (`ssh -G`) that exist on disk. */
    keyFiles: string[];
  };
  socketPaths: Array<{ path: string; bytes: number; maxBytes: number }>;
  runtimeDir: { dir: string; state: "missing" | "ok" | "tighten" } | { dir: string; problem: Problem };
  instance:
    | null
    | { live: true; pid: number; state: string; lastError: string | null; activeLocalPorts: number[]; clientSocket?: string | null }
    | { live: false; pid: number; unresponsive: boolean; staleAgeS: number | null };
  /**
   * rdhpf's Docker socket: where the running instance serves it (and what it
   * is like), where `rdhpf run` would serve it when none runs, or "off".
   */
  dockerSocket:
    | null
    | { served: false; path: string | "off" }
    | {
      served: true;
      path: string;
      /** What lstat found; null when nothing is there. */
      file: null | { isSocket: boolean; mode: number };
      /** The directory: "ok" (private to this user) or why not. */
      dir: "ok" | string;
      ping: { ok: true; durationMs: number } | { ok: false; error: string };
    };
  /** `--max-docker-sessions` of `rdhpf run`: the dial-stdio bridges at once. */
  maxDockerSessions: number;
  /** `onConflict`: what `rdhpf run` does with a busy port (--on-conflict, else the config file's). */
  ports: null | { wanted: number; busy: BusyPort[]; onConflict: OnConflict };
}

/** Titles, as printed. */
export const CHECK_TITLES: Record<CheckId, string> = {
  "ssh-client": "ssh client",
  "target": "TARGET resolution",
  "ssh-config": "ssh config for the host",
  "host-key": "host key known",
  "connection": "connection and auth (BatchMode)",
  "docker": "remote Docker endpoint and API",
  "stream-local-forwarding": "stream-local forwarding",
  "ipv6-loopback": "IPv6 loopback (::1)",
  "sshd-tcp-forwarding": "sshd allows TCP forwarding",
  "sshd-max-sessions": "sshd MaxSessions",
  "ssh-agent": "ssh-agent",
  "socket-paths": "socket path length",
  "runtime-dir": "runtime dir owner and mode",
  "instance": "rdhpf instance for the host",
  "docker-socket": "rdhpf's Docker socket",
  "local-ports": "local ports of published ports",
  "sshd-keepalive": "sshd keepalive",
};

type Verdict = Omit<CheckResult, "id" | "title">;

const v = (status: CheckStatus, detail: string, hint: string | null = null): Verdict => ({ status, detail, hint });

const NEEDS_TARGET = v("skipped", "needs a resolved TARGET");
const NEEDS_CONNECTION = v("skipped", "needs a working SSH connection");
const NEEDS_DOCKER = v("skipped", "needs the remote Docker engine");

/** Advice shared by the sshd checks whose settings are unknown. */
const SSHD_UNKNOWN_HINT = "run `sudo sshd -T | grep -Ei 'allowtcpforwarding|maxsessions|clientalive'` on the Docker host (sshd -T needs root there)";

/**
 * Sessions rdhpf may hold at once: the endpoint discovery, and with
 * dial-stdio its bridges (`--max-docker-sessions`, the event stream and the
 * user's clients included).
 */
export function sessionsNeeded(transport: "socket-forward" | "dial-stdio", maxDockerSessions: number): number {
  return transport === "socket-forward" ? 1 : maxDockerSessions + 1;
}

/** The recommended keepalive on the Docker host (docs/deployment.md). */
const KEEPALIVE_HINT = "set `ClientAliveInterval 60` and `ClientAliveCountMax 3` in the Docker host's sshd_config: sshd then drops a dead client's connection, and the ports and sessions it held, after about 3 minutes instead of hours";

function sshClient(f: DoctorFacts): Verdict {
  if ("problem" in f.sshClient) return v("fail", f.sshClient.problem.message, f.sshClient.problem.hint);
  return v("ok", f.sshClient.version);
}

function target(f: DoctorFacts): Verdict {
  if ("problem" in f.target) return v("fail", f.target.problem.message, f.target.problem.hint);
  const r = f.target.resolved;
  return v("ok", `${f.target.raw} → ${r.user}@${r.hostname}, port ${r.port} (from ${f.target.source}, as ssh -G resolves it)`);
}

function sshConfig(f: DoctorFacts): Verdict {
  if (f.sshConfigFindings === null) return NEEDS_TARGET;
  if (f.sshConfigFindings.length === 0) return v("ok", "no setting for this host fights rdhpf");
  const [first, ...rest] = f.sshConfigFindings;
  const more = rest.length > 0 ? `; also ${rest.map((x) => `${x.key} ${x.value}`).join(", ")} (see rdhpf run's start-up warnings)` : "";
  return v("warn", `${first!.message}${more}`, first!.hint);
}

const HOST_KEY_KINDS: SshErrorKind[] = ["host-key-unknown", "host-key-changed"];
/** Failures that happen before the host key is checked. */
const BEFORE_KEY_EXCHANGE: SshErrorKind[] = ["dns", "unreachable", "timeout"];

function hostKey(f: DoctorFacts): Verdict {
  if (f.connection === null) return NEEDS_TARGET;
  const relaxed = f.strictHostKeyChecking !== null && !/^(yes|true|ask)$/i.test(f.strictHostKeyChecking);
  const note = relaxed ? ` (your ssh config says StrictHostKeyChecking ${f.strictHostKeyChecking}; doctor checks strictly and never adds keys)` : "";
  if (f.connection.ok) return v("ok", `the host's key matches known_hosts${note}`);
  if (HOST_KEY_KINDS.includes(f.connection.kind)) return v("fail", `${f.connection.problem.message}${note}`, f.connection.problem.hint);
  if (BEFORE_KEY_EXCHANGE.includes(f.connection.kind) || f.connection.kind === "unknown") return v("skipped", "the connection failed before the host key was checked");
  // Authentication comes after the key exchange: the key was accepted.
  return v("ok", `the host's key matches known_hosts${note}`);
}

function connection(f: DoctorFacts): Verdict {
  if (f.connection === null) return NEEDS_TARGET;
  if (f.connection.ok) return v("ok", `connected and authenticated in ${f.connection.durationMs} ms without prompting`);
  if (HOST_KEY_KINDS.includes(f.connection.kind)) return v("skipped", "the host key check failed first");
  return v("fail", f.connection.problem.message, f.connection.problem.hint);
}

function connected(f: DoctorFacts): boolean {
  return f.connection !== null && f.connection.ok;
}

function docker(f: DoctorFacts): Verdict {
  if (!connected(f) || f.docker === null) return NEEDS_CONNECTION;
  if (!f.docker.ok) return v("fail", `${f.docker.endpoint ? `${f.docker.endpoint}: ` : ""}${f.docker.problem.message}`, f.docker.problem.hint);
  const d = f.docker;
  return v("ok", `${d.endpoint}: Docker ${d.serverVersion}, Engine API ${d.apiVersion}, ${d.publishedTcpPorts} published TCP port(s)`);
}

function streamLocal(f: DoctorFacts): Verdict {
  if (!connected(f) || f.docker === null) return NEEDS_CONNECTION;
  const sshdSays = f.sshd?.known ? f.sshd.values.get("allowstreamlocalforwarding") ?? null : null;
  if (!f.docker.ok) {
    if (sshdSays !== null && /^(no|remote)$/i.test(sshdSays)) {
      return v("warn", `sshd has AllowStreamLocalForwarding ${sshdSays}: rdhpf will use the docker system dial-stdio fallback`, "allow it on the Docker host (AllowStreamLocalForwarding yes) for a faster Docker link, or keep the fallback");
    }
    return v("unknown", "the Docker engine could not be reached, so the socket forward could not be tried", "fix the Docker check first; the doctor then tries the socket forward");
  }
  if (f.docker.endpointKind !== "unix") {
    return v("ok", `not needed: the remote endpoint ${f.docker.endpoint} is not a unix socket, rdhpf reaches it through docker system dial-stdio`);
  }
  if (f.docker.transport === "socket-forward") return v("ok", "the remote Docker socket is forwarded over the SSH connection");
  return v(
    "warn",
    `forwarding the remote Docker socket failed${sshdSays ? ` (sshd: AllowStreamLocalForwarding ${sshdSays})` : ""}; rdhpf will use the docker system dial-stdio fallback, one remote process per Docker API connection`,
    "nothing is broken; for a faster Docker link allow unix socket forwarding on the Docker host (AllowStreamLocalForwarding yes in sshd_config)",
  );
}

function ipv6(f: DoctorFacts): Verdict {
  if (f.ipv6Loopback) return v("ok", "::1 is available: forwards listen on 127.0.0.1 and ::1");
  return v("warn", "no IPv6 loopback on this machine: forwards listen on 127.0.0.1 only, so `localhost` resolving to ::1 first will not reach them", "enable IPv6 on the loopback interface, or use 127.0.0.1 in URLs");
}

function sshdUnknown(f: DoctorFacts, what: string): Verdict {
  const reason = f.sshd && !f.sshd.known ? f.sshd.reason : "not checked";
  return v("unknown", `${what} unknown: sshd -T on the Docker host said: ${reason}`, SSHD_UNKNOWN_HINT);
}

function sshdTcpForwarding(f: DoctorFacts): Verdict {
  if (!connected(f)) return NEEDS_CONNECTION;
  if (!f.sshd?.known) return sshdUnknown(f, "AllowTcpForwarding");
  const allow = f.sshd.values.get("allowtcpforwarding") ?? "yes";
  const disable = f.sshd.values.get("disableforwarding") ?? "no";
  const permitOpen = f.sshd.values.get("permitopen") ?? "any";
  const fix = "set `AllowTcpForwarding local` (or yes) for this user in the Docker host's sshd_config and reload sshd";
  if (/^yes$/i.test(disable)) return v("fail", "sshd has DisableForwarding yes: no port can be forwarded", "remove DisableForwarding for this user in the Docker host's sshd_config");
  if (!/^(yes|all|local)$/i.test(allow)) return v("fail", `sshd has AllowTcpForwarding ${allow}: rdhpf's local forwards are refused`, fix);
  if (!/^any$/i.test(permitOpen)) {
    return v("warn", `sshd allows TCP forwarding, but only to PermitOpen ${permitOpen}: forwards to other ports are refused`, "set `PermitOpen any` for this user, or exclude the other ports (--include-ports)");
  }
  return v("ok", `AllowTcpForwarding ${allow}${f.sshd.configFile ? ` (${f.sshd.configFile})` : ""}`);
}

function sshdMaxSessions(f: DoctorFacts): Verdict {
  if (!connected(f)) return NEEDS_CONNECTION;
  if (!f.sshd?.known) return sshdUnknown(f, "MaxSessions");
  const max = Number(f.sshd.values.get("maxsessions") ?? "10");
  const streamLocal = f.sshd.values.get("allowstreamlocalforwarding") ?? "yes";
  const transport = f.docker?.ok ? f.docker.transport : /^(no|remote)$/i.test(streamLocal) ? "dial-stdio" : "socket-forward";
  const needed = sessionsNeeded(transport, f.maxDockerSessions);
  const fix = `set \`MaxSessions ${Math.max(needed, 10)}\` (the default is 10) in the Docker host's sshd_config` +
    (transport === "dial-stdio" && max > 1 ? `, or run rdhpf with \`--max-docker-sessions ${max - 1}\` (it queues the rest)` : "");
  if (max === 0) return v("fail", "sshd has MaxSessions 0: rdhpf cannot run its remote commands (endpoint discovery, docker system dial-stdio)", fix);
  if (max < needed) return v("warn", `sshd has MaxSessions ${max}; with ${transport} rdhpf may hold up to ${needed} sessions at once, so some Docker requests would wait or fail`, fix);
  return v("ok", `MaxSessions ${max}; rdhpf holds at most ${needed} session(s) at once with ${transport}`);
}

const AGENT_SERVICE_HINT =
  "a LaunchAgent or systemd user unit gets no SSH_AUTH_SOCK unless configured: name the socket in ~/.ssh/config for this Host (`IdentityAgent /path/to/agent.sock`), " +
  "or give rdhpf a key file without passphrase (`-o IdentityFile=~/.ssh/docker_ed25519`)";

function sshAgent(f: DoctorFacts): Verdict {
  if ("problem" in f.target) return NEEDS_TARGET;
  const a = f.agent;
  const files = a.keyFiles.length > 0 ? `key file(s) ${a.keyFiles.join(", ")}` : "no key file on disk";
  const authFailed = f.connection !== null && !f.connection.ok && f.connection.kind === "auth";
  if (a.socket === null) {
    if (authFailed) return v("fail", `no ssh-agent (SSH_AUTH_SOCK is not set, no IdentityAgent) and ${files}`, AGENT_SERVICE_HINT);
    return v("ok", `no ssh-agent; ${files}`);
  }
  if (a.reachable === false) {
    if (authFailed) return v("fail", `the ssh-agent socket ${a.socket} (${a.source}) does not answer; ${files}`, AGENT_SERVICE_HINT);
    return v("warn", `the ssh-agent socket ${a.socket} (${a.source}) does not answer; ${files}`, "start the agent or unset SSH_AUTH_SOCK");
  }
  if (a.source === "SSH_AUTH_SOCK" && a.keyFiles.length === 0) {
    return v("warn", `keys come from the ssh-agent at ${a.socket} (SSH_AUTH_SOCK) and no key file is on disk`, AGENT_SERVICE_HINT);
  }
  return v("ok", `ssh-agent at ${a.socket} (${a.source}) answers; ${files}`);
}

/** Bytes ssh adds to a ControlPath while creating it: "." and 16 random characters (OpenSSH mux.c). */
export const CONTROL_PATH_TEMP_SUFFIX_BYTES = 17;

/** Longest usable unix socket path on a platform, in bytes: sun_path (104 on macOS, 108 on Linux) minus the NUL. */
export function maxSocketPathBytes(platform: string): number {
  return (platform === "darwin" ? 104 : 108) - 1;
}

function socketPaths(f: DoctorFacts): Verdict {
  if (f.socketPaths.length === 0) return NEEDS_TARGET;
  const tooLong = f.socketPaths.filter((p) => p.bytes > p.maxBytes);
  if (tooLong.length > 0) {
    const p = tooLong[0]!;
    return v("fail", `${p.path} is ${p.bytes} bytes; on ${f.platform} at most ${p.maxBytes} fit`, "point RDHPF_STATE_DIR to a shorter directory, e.g. /tmp/rdhpf-$USER");
  }
  const longest = f.socketPaths.reduce((a, b) => (b.bytes - b.maxBytes > a.bytes - a.maxBytes ? b : a));
  return v("ok", `longest ${longest.bytes} of ${longest.maxBytes} bytes (${longest.path})`);
}

function runtimeDir(f: DoctorFacts): Verdict {
  const r = f.runtimeDir;
  if ("problem" in r) return v("fail", r.problem.message, r.problem.hint);
  if (r.state === "missing") return v("ok", `${r.dir} does not exist yet; rdhpf run creates it with mode 0700`);
  if (r.state === "tighten") return v("warn", `${r.dir} is readable by others; rdhpf run tightens it to 0700`, `chmod 700 ${r.dir}`);
  return v("ok", `${r.dir} is yours, mode 0700`);
}

function instance(f: DoctorFacts): Verdict {
  if ("problem" in f.target) return NEEDS_TARGET;
  const i = f.instance;
  if (i === null) return v("ok", "no rdhpf runs for this host; `rdhpf run` can start");
  if (i.live) {
    const detail = `rdhpf runs for this host (PID ${i.pid}, ${i.state}, ${i.activeLocalPorts.length} forward(s) active); a second \`rdhpf run\` would exit 1`;
    if (i.state === "connected") return v("ok", detail);
    return v("warn", `${detail}${i.lastError ? `; last error: ${i.lastError}` : ""}`, "see `rdhpf status` for the details");
  }
  if (i.unresponsive) {
    return v("warn", `rdhpf PID ${i.pid} for this host exists but does not answer on its control socket (stopped, hung or still starting)`, `check it with \`rdhpf status\`; end it with \`kill ${i.pid}\` if it stays silent`);
  }
  return v("ok", `not running; the last instance (PID ${i.pid}) stopped${i.staleAgeS !== null ? ` ${i.staleAgeS} s ago` : ""}`);
}

function dockerSocket(f: DoctorFacts): Verdict {
  if ("problem" in f.target) return NEEDS_TARGET;
  const d = f.dockerSocket;
  if (d === null) return v("skipped", "not checked");
  if (!d.served) {
    return d.path === "off"
      ? v("ok", "turned off (--no-docker-socket or \"dockerSocket\": false)")
      : v("ok", `not served now (rdhpf does not run for this host); \`rdhpf run\` serves it at ${d.path}`);
  }
  const restart = "restart `rdhpf run` for this host: it recreates the socket (mode 0600) at start";
  if (d.file === null) return v("fail", `rdhpf runs, but ${d.path} does not exist (removed while it ran?)`, restart);
  if (!d.file.isSocket) return v("fail", `${d.path} is not a socket`, `move that file away, then ${restart}`);
  if (d.dir !== "ok") return v("fail", `${d.path}: its directory is not private to you (${d.dir}); whoever can reach the socket controls the remote Docker host`, `chmod 700 the directory, or serve the socket elsewhere with --docker-socket PATH`);
  const mode = (d.file.mode & 0o777).toString(8).padStart(4, "0");
  if ((d.file.mode & 0o077) !== 0) return v("fail", `${d.path} has mode ${mode}: others may reach the remote Docker host through it`, `chmod 600 ${d.path} (rdhpf creates it 0600; something changed it)`);
  if (!d.ping.ok) return v("fail", `${d.path} is served (mode ${mode}, private directory), but GET /_ping through it failed: ${d.ping.error}`, "see `rdhpf status`: the SSH connection or the Docker link may be down or reconnecting");
  return v("ok", `${d.path}: mode ${mode} in a private directory; GET /_ping answered in ${d.ping.durationMs} ms (DOCKER_HOST=unix://${d.path})`);
}

function localPorts(f: DoctorFacts): Verdict {
  if (!connected(f) || f.docker === null) return NEEDS_CONNECTION;
  if (!f.docker.ok || f.ports === null) return NEEDS_DOCKER;
  const held = f.instance?.live ? ` (those the running rdhpf forwards count as free)` : "";
  if (f.ports.busy.length === 0) return v("ok", `${f.ports.wanted} port(s) to forward, all free locally${f.ports.wanted > 0 ? held : ""}`);
  const describe = (b: BusyPort) =>
    `local port ${b.localPort} (container ${b.containerName}, remote port ${b.remotePort}) is in use${b.owner ? ` by ${b.owner}` : ""}`;
  const first = f.ports.busy[0]!;
  if (f.ports.onConflict === "next-free") {
    return v("warn", `${f.ports.busy.map(describe).join("; ")}; with on-conflict next-free rdhpf forwards it on the next free port above`, "see `rdhpf status` for the port it took, or free the port");
  }
  return v(
    "fail",
    f.ports.busy.map(describe).join("; "),
    `free the port (find the owner with: lsof -nP -i :${first.localPort}), or forward it elsewhere with --map ${first.remotePort}:LOCAL, or leave it out with --exclude-ports ${first.remotePort}`,
  );
}

function sshdKeepalive(f: DoctorFacts): Verdict {
  if (!connected(f)) return NEEDS_CONNECTION;
  if (!f.sshd?.known) return v("unknown", `ClientAliveInterval unknown: sshd -T on the Docker host said: ${f.sshd && !f.sshd.known ? f.sshd.reason : "not checked"}`, KEEPALIVE_HINT);
  const interval = Number(f.sshd.values.get("clientaliveinterval") ?? "0");
  const count = Number(f.sshd.values.get("clientalivecountmax") ?? "3");
  if (interval <= 0 || count <= 0) return v("warn", `ClientAliveInterval ${interval}: sshd never checks that rdhpf is still there`, KEEPALIVE_HINT);
  if (interval * count > 600) return v("warn", `ClientAliveInterval ${interval} × ClientAliveCountMax ${count}: a dead client is dropped only after ${interval * count} s`, KEEPALIVE_HINT);
  return v("ok", `ClientAliveInterval ${interval}, ClientAliveCountMax ${count}: a dead client is dropped after ${interval * count} s`);
}

const VERDICTS: Record<CheckId, (f: DoctorFacts) => Verdict> = {
  "ssh-client": sshClient,
  "target": target,
  "ssh-config": sshConfig,
  "host-key": hostKey,
  "connection": connection,
  "docker": docker,
  "stream-local-forwarding": streamLocal,
  "ipv6-loopback": ipv6,
  "sshd-tcp-forwarding": sshdTcpForwarding,
  "sshd-max-sessions": sshdMaxSessions,
  "ssh-agent": sshAgent,
  "socket-paths": socketPaths,
  "runtime-dir": runtimeDir,
  "instance": instance,
  "docker-socket": dockerSocket,
  "local-ports": localPorts,
  "sshd-keepalive": sshdKeepalive,
};

/** Every check's verdict, in the fixed order, and the totals. */
export function buildReport(f: DoctorFacts): DoctorReport {
  const checks: CheckResult[] = CheckIdSchema.options.map((id) => ({ id, title: CHECK_TITLES[id], ...VERDICTS[id](f) }));
  const resolved = "resolved" in f.target ? f.target.resolved : null;
  return {
    rdhpf_version: f.rdhpfVersion,
    host: f.target.raw,
    resolved,
    ok: doctorExitCode({ checks }) === 0,
    checks,
    summary: summarize(checks),
  };
}
