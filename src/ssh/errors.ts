/**
 * Reads what ssh printed on stderr and says what went wrong, with the line
 * that matters and the user's next step. Pure; every pattern comes from a
 * message OpenSSH 9.2 really printed (see errors_test.ts).
 *
 * ssh's stderr is never logged raw: callers log `kind` and `message`.
 *
 * @module
 */
import { RdhpfError } from "../errors.ts";
import { displaySafe } from "../text_safety.ts";

/** What went wrong, as far as ssh's messages tell. */
export type SshErrorKind =
  | "host-key-unknown"
  | "host-key-changed"
  | "auth"
  | "unreachable"
  | "dns"
  | "timeout"
  | "port-in-use"
  | "bind-failed"
  | "forward-refused"
  | "forward-failed"
  | "stream-local-refused"
  | "master-gone"
  | "control-socket-in-use"
  | "unknown";

/** A classified ssh failure. */
export interface SshFailure {
  kind: SshErrorKind;
  /** The meaningful ssh line, trimmed, control characters escaped; "" when ssh said nothing. */
  message: string;
  hint: string | null;
}

/** Lines that carry no information about a failure. */
const NOISE = [
  /^Warning: Permanently added /,
  /^Pseudo-terminal will not be allocated/,
  /^Master running \(pid=\d+\)/,
  /^Exit request sent\./,
  /^@+$/,
  /^@ .* @$/,
];

interface Rule {
  kind: SshErrorKind;
  pattern: RegExp;
  hint: (m: RegExpMatchArray, all: string) => string | null;
}

/** "[10.0.0.1]:2222" or "host" as ssh prints a known_hosts name → host and port. */
function hostAndPort(name: string): { host: string; port: string } {
  const m = /^\[(.+)\]:(\d+)$/.exec(name);
  return m ? { host: m[1]!, port: m[2]! } : { host: name, port: "22" };
}

const AUTH_HINT =
  "check that `ssh -o BatchMode=yes TARGET true` works as the same user with the same -F file and -o options; " +
  "keys in ssh-agent need SSH_AUTH_SOCK, which a LaunchAgent or systemd unit does not have unless configured";

// Order matters: the first rule with a matching line wins. Bind failures
// come before "auth" because a privileged port fails with "Permission denied".
const RULES: Rule[] = [
  {
    kind: "control-socket-in-use",
    pattern: /ControlSocket (.+) already exists, disabling multiplexing/,
    hint: (m) => `another SSH master serves ${m[1]}; another rdhpf for this host may be running (rdhpf status), or remove the socket if no process owns it`,
  },
  {
    kind: "master-gone",
    pattern: /Control socket connect\((.*)\): (.*)|mux_client_\w+: (?:read from master failed|write packet)|muxclient: master hello exchange failed/,
    hint: () => "the SSH ControlMaster is not running; rdhpf reconnects by itself",
  },
  {
    kind: "host-key-changed",
    pattern: /Host key for (\S+) has changed and you have requested strict checking|REMOTE HOST IDENTIFICATION HAS CHANGED/,
    hint: (_m, all) => {
      const fp = /(SHA256:[A-Za-z0-9+/=]+)/.exec(all)?.[1];
      const remove = /^\s*(ssh-keygen -f "[^"\n]*" -R "[^"\n]*")\s*$/m.exec(all)?.[1];
      return (
        `the host's key differs from the one in known_hosts${fp ? ` (it now sends ${fp})` : ""}: verify the new fingerprint with the host's administrator` +
        (remove ? `; only if the change is expected, remove the old key with: ${remove}` : "; only if the change is expected, remove the old key with ssh-keygen -R HOST") +
        " and add the new one"
      );
    },
  },
  {
    kind: "host-key-unknown",
    pattern: /No (\S+) host key is known for (\S+) and you have requested strict checking|Host key verification failed/,
    hint: (m) => {
      const { host, port } = m[2] ? hostAndPort(m[2]) : { host: "HOST", port: "22" };
      return `add the host key: ssh-keyscan -p ${port} ${host} >> ~/.ssh/known_hosts (or the UserKnownHostsFile of your ssh config) after verifying its fingerprint with ssh-keygen -lf`;
    },
  },
  {
    kind: "port-in-use",
    pattern: /bind \[?([^\]\s]*)\]?:(\d+): Address already in use/,
    hint: (m) => `local port ${m[2]} is in use; find the owner with: lsof -nP -i :${m[2]} (or ss -ltnp 'sport = :${m[2]}')`,
  },
  {
    kind: "port-in-use",
    pattern: /unix_listener: cannot bind to path (.+): Address already in use/,
    hint: (m) => `the socket file ${m[1]} already exists; remove it if no process listens on it`,
  },
  {
    kind: "bind-failed",
    pattern: /bind \[?([^\]\s]*)\]?:(\d+): (.+)/,
    hint: (m) =>
      /Permission denied/.test(m[3]!)
        ? `ports below 1024 need privileges on this machine; map port ${m[2]} to a higher local port`
        : `the local address ${m[1]} cannot be used on this machine; check --bind`,
  },
  {
    kind: "forward-refused",
    pattern: /open failed: administratively prohibited/,
    hint: () => "the remote sshd refuses TCP forwarding; it needs AllowTcpForwarding yes (and no PermitOpen restriction) for this user",
  },
  {
    // What OpenSSH 9.2 prints for a refused stream-local forward, and also for
    // a remote socket that does not exist: the two cannot be told apart here.
    kind: "stream-local-refused",
    pattern: /open failed: connect failed: open failed/,
    hint: () => "the remote sshd refuses unix socket forwarding (AllowStreamLocalForwarding no) or the remote socket does not exist; rdhpf then uses docker system dial-stdio",
  },
  {
    kind: "forward-failed",
    pattern: /forwarding request failed: (Port forwarding failed|.*)/,
    hint: () => null,
  },
  {
    kind: "auth",
    pattern: /Permission denied \(([^)]*)\)|Too many authentication failures|sign_and_send_pubkey: signing failed|no mutual signature algorithm/,
    hint: () => AUTH_HINT,
  },
  {
    kind: "dns",
    pattern: /Could not resolve hostname (\S+): (.*)/,
    hint: (m) => `check the host name ${m[1]!.replace(/:$/, "")}; for an ssh config alias, ssh -G ALIAS shows what ssh makes of it`,
  },
  {
    kind: "timeout",
    pattern: /Connection timed out|Operation timed out|Timeout, server (\S+) not responding|timed out during banner exchange/,
    hint: () => "the host did not answer in time: check that it is up and that no firewall drops SSH (ConnectTimeout, ServerAliveInterval)",
  },
  {
    kind: "unreachable",
    pattern:
      /connect to host (\S+) port (\d+): (.*)|Connection (?:to \S+ )?closed by (?:remote host|\S+ port \d+)|Connection reset by|kex_exchange_identification: |Network is unreachable|No route to host/,
    hint: (m) => (m[2] ? `nothing accepts SSH connections at ${m[1]} port ${m[2]}: check the host, the port and that sshd runs` : "the SSH connection was closed or could not be established: check that the host is up and sshd runs"),
  },
];

/** Classifies ssh's stderr. Unknown output yields kind "unknown" with ssh's last line as message. */
export function classifySshStderr(stderr: string): SshFailure {
  const lines = stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !NOISE.some((n) => n.test(l)));
  for (const rule of RULES) {
    for (const line of lines) {
      const m = line.match(rule.pattern);
      if (m) return { kind: rule.kind, message: displaySafe(line, 300), hint: rule.hint(m, stderr) };
    }
  }
  const last = lines.at(-1);
  return { kind: "unknown", message: last === undefined ? "" : displaySafe(last, 300), hint: null };
}

/**
 * Which failure kinds end `rdhpf run` (exit 2) when they happen at the very
 * first connection, before any session was established. After a first
 * success nothing is fatal: every kind is retried with backoff.
 *
 * The rule: fatal when the cause is most likely the user's input or setup
 * (the target, keys, known_hosts, the host's address), so that a typo does
 * not turn into a daemon retrying forever in silence; a service manager
 * restarts the process anyway. "timeout" belongs with "unreachable" and
 * "dns": at first start a host that never answers is the README's
 * "unreachable host" (wrong address, a firewall that drops SSH), whether the
 * path fails with an error or in silence. Kinds about forwards, sockets or
 * the master going away are never fatal here: they are not about reaching
 * the host.
 */
const FATAL_AT_FIRST_START: Record<SshErrorKind, boolean> = {
  "host-key-unknown": true,
  "host-key-changed": true,
  auth: true,
  dns: true,
  unreachable: true,
  timeout: true,
  "port-in-use": false,
  "bind-failed": false,
  "forward-refused": false,
  "forward-failed": false,
  "stream-local-refused": false,
  "master-gone": false,
  "control-socket-in-use": false,
  unknown: false,
};

/**
 * Failures that at first start mean "fix your configuration or the host"
 * (exit 2), not "retry later"; see FATAL_AT_FIRST_START.
 */
export function isConfigurationFailure(kind: SshErrorKind): boolean {
  return FATAL_AT_FIRST_START[kind];
}

/**
 * How a failure of each kind is retried once rdhpf has connected before:
 * - "slowly": keys, host keys and passwords do not fix themselves in seconds;
 *   retry at the backoff's cap.
 * - "watch-path": the network path may be what failed ("timeout" covers a
 *   silent path: SYNs or the keepalive lost, "unreachable" a path that
 *   answers with an error); probe it and retry as soon as it is back.
 * - "backoff": anything else, with the usual backoff.
 */
export type RetryWhileRunning = "slowly" | "watch-path" | "backoff";

const RETRY_WHILE_RUNNING: Record<SshErrorKind, RetryWhileRunning> = {
  "host-key-unknown": "slowly",
  "host-key-changed": "slowly",
  auth: "slowly",
  dns: "watch-path",
  unreachable: "watch-path",
  timeout: "watch-path",
  "port-in-use": "backoff",
  "bind-failed": "backoff",
  "forward-refused": "backoff",
  "forward-failed": "backoff",
  "stream-local-refused": "backoff",
  "master-gone": "backoff",
  "control-socket-in-use": "backoff",
  unknown: "backoff",
};

/** How a failure of `kind` is retried after the first successful connection; see RETRY_WHILE_RUNNING. */
export function retryWhileRunning(kind: SshErrorKind): RetryWhileRunning {
  return RETRY_WHILE_RUNNING[kind];
}

/** An SSH operation that failed; `kind` says why (see `classifySshStderr`). */
export class SshConnectError extends RdhpfError {
  constructor(
    readonly kind: SshErrorKind,
    message: string,
    hint: string | null,
    exitCode: 1 | 2 = 1,
    options?: ErrorOptions,
  ) {
    super(message, hint, exitCode, options);
  }
}

/**
 * Says why the ssh client could not be started at all (spawn failed), by the
 * OS error code: a missing client is a configuration problem (exit 2), an
 * argument list over the OS limit or an exhausted file or process table is
 * not, and must not send the user off to reinstall OpenSSH. `argv` is what
 * rdhpf tried to pass, to put the size in the message.
 */
export function spawnFailure(binary: string, argv: readonly string[], err: unknown): RdhpfError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const what = `cannot start the ssh client ${JSON.stringify(binary)}`;
  const options = { cause: err };
  switch (code) {
    case "ENOENT":
      return new RdhpfError(
        `cannot run the ssh client ${JSON.stringify(binary)}`,
        "install OpenSSH's client (Debian: apt-get install openssh-client) and make sure it is on PATH; a LaunchAgent or systemd unit needs PATH set to find it",
        2,
        options,
      );
    case "EACCES":
    case "EPERM":
      return new RdhpfError(`${what}: permission denied`, `make sure ${binary} is an executable file the user running rdhpf may run`, 2, options);
    case "E2BIG": {
      // macOS caps argv + environment at 1 MiB, Linux at 2 MiB (128 KiB per string).
      const bytes = argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
      return new RdhpfError(
        `${what}: argument list too long (E2BIG: ${argv.length} arguments, ${bytes} bytes, plus the environment)`,
        "the operating system refused the command line; a smaller environment or a lower --max-forwards helps, and this is worth a bug report naming the number of published ports",
        1,
        options,
      );
    }
    case "EMFILE":
    case "ENFILE":
      return new RdhpfError(
        `${what}: too many open files (${code})`,
        "raise the open-file limit (ulimit -n; LimitNOFILE= in a systemd unit, SoftResourceLimits in a LaunchAgent) or lower --max-forwards",
        1,
        options,
      );
    case "EAGAIN":
    case "ENOMEM":
      return new RdhpfError(`${what}: the system refuses a new process (${code})`, "check the process limit (ulimit -u) and free memory; rdhpf retries at the next resync", 1, options);
    default: {
      const detail = err instanceof Error ? displaySafe(err.message, 200) : String(code ?? "unknown error");
      return new RdhpfError(`${what}: ${detail}`, "check that the ssh client runs by hand: ssh -V", 1, options);
    }
  }
}
