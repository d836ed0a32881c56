/**
 * The one function that builds every ssh command line rdhpf runs.
 *
 * Rules it enforces, whatever the operation:
 * - BatchMode=yes always: ssh never prompts (rdhpf runs unattended).
 * - Host key checking is never relaxed here; the user's own setting applies
 *   (and `validateSshOption` refuses turning it off).
 * - The destination comes last, after `--`, so it can never be read as an
 *   option even if it slipped past `parseTarget`.
 * - rdhpf's essential options come before the user's `-o` options: ssh uses
 *   the first value it sees for an option, so they cannot be overridden.
 *   Tunable defaults (keepalives, connect timeout) come after the user's, so
 *   `-o ServerAliveInterval=60` does win.
 *
 * Measured with OpenSSH 9.2 (see mux.ts for the mux figures):
 * - `-M` together with `-o ControlMaster=yes` means "ask": the master then
 *   refuses every mux request. The master therefore gets ControlMaster=yes
 *   and never `-M`.
 * - A mux client whose control socket is gone does not fail: for a remote
 *   command it silently opens a NEW authenticated connection. Every mux
 *   operation therefore carries `-o ProxyCommand=false`, which makes that
 *   fallback fail ("kex_exchange_identification: Connection closed by remote
 *   host") instead of logging in a second time. With a live socket the
 *   ProxyCommand is never used.
 * - Mux operations read no ssh config (`-F /dev/null`): they need only the
 *   socket, and a user config's LocalForward or RemoteCommand for the host
 *   would otherwise be sent along with every mux request.
 * - ssh expands `%` tokens in a ControlPath, also one given by `-S`; "%" is
 *   escaped as "%%". `-S` (not `-o ControlPath=`) keeps paths with spaces whole.
 *
 * @module
 */
import { isIPv6 } from "node:net";
import { bracketIpv6 } from "../address.ts";
import { isPort, MAX_PORT } from "../port.ts";
import { singleQuote } from "../shell_words.ts";
import { hasUnsafeChars } from "../text_safety.ts";
import { type MuxForward, PORT_STREAMLOCAL } from "./mux_protocol.ts";
import { destination, type SshTarget } from "./target.ts";

/** Everything the argv builder needs about one remote host. */
export interface SshContext {
  /** The ssh client to run, normally "ssh". */
  sshBinary: string;
  /** The user's `-F` file, or null for ssh's defaults. */
  configFile: string | null;
  /** Validated "Key=Value" options from `-o` (see `validateSshOption`). */
  options: string[];
  target: SshTarget;
  /** The ControlMaster's socket. */
  controlPath: string;
}

/** One local TCP forward held by the master. */
export interface LocalForward {
  /** Local listen address: "127.0.0.1", "::1" or a user's `--bind`. */
  bindAddress: string;
  localPort: number;
  /** Address the remote sshd connects to. */
  remoteHost: string;
  remotePort: number;
}

/**
 * Every ssh operation rdhpf performs. rdhpf itself adds and cancels forwards
 * in the mux protocol (mux.ts), not with "forward"/"cancel"/"-socket": those
 * stay as the reference its requests must equal (argv and mux protocol
 * tests, scripts/bench_mux_forward.ts) and for forwards made by hand.
 */
export type SshOperation =
  | { kind: "master" }
  | { kind: "check" }
  | { kind: "exit" }
  | { kind: "forward"; forwards: LocalForward[] }
  | { kind: "cancel"; forwards: LocalForward[] }
  | { kind: "forward-socket"; localPath: string; remotePath: string }
  | { kind: "cancel-socket"; localPath: string; remotePath: string }
  | { kind: "command"; command: string[] }
  | { kind: "resolve" }
  | { kind: "version" };

/**
 * Keepalives: ssh ends the master when (CountMax + 1) keepalives in a row go
 * unanswered, so a silently dead path is noticed 6-9 s after it died instead
 * of TCP's minutes. That is short on purpose: a master kept alive across a
 * 10 s cut waits for TCP's retransmit timer (backed off to several seconds)
 * once the path is back, while a new connection is up in under a second
 * (the path probe in src/daemon/route_watch.ts sees the path return). An
 * idle connection sends one small packet every 3 s.
 */
const TUNABLE_MASTER_DEFAULTS = [
  "ServerAliveInterval=3",
  "ServerAliveCountMax=2",
  "TCPKeepAlive=yes",
  "ConnectTimeout=10",
];

function escapeControlPath(path: string): string {
  return path.replace(/%/g, "%%");
}

function opts(list: string[]): string[] {
  return list.flatMap((o) => ["-o", o]);
}


function assertPort(port: number, what: string): void {
  if (!isPort(port)) throw new RangeError(`${what} ${port} is not a TCP port (1-${MAX_PORT})`);
}

function checkAddress(address: string, what: string): void {
  if (address === "" || address.startsWith("-") || /\s/.test(address) || hasUnsafeChars(address) || address.includes("/")) {
    throw new RangeError(`${what} ${JSON.stringify(address)} is not an address`);
  }
  if (address.includes(":") && !isIPv6(address)) throw new RangeError(`${what} ${JSON.stringify(address)} is not an address`);
}

function checkSocketPath(path: string, what: string): void {
  // ssh splits a -L spec at ":"; it has no quoting for socket paths.
  if (!path.startsWith("/") || path.includes(":") || hasUnsafeChars(path)) {
    throw new RangeError(`${what} ${JSON.stringify(path)} must be an absolute path without ":" or control characters`);
  }
}

/** The `-L` argument of a TCP forward: "127.0.0.1:5432:127.0.0.1:5432", "[::1]:5432:[fd00::2]:5432". */
export function forwardSpec(f: LocalForward): string {
  checkAddress(f.bindAddress, "bind address");
  checkAddress(f.remoteHost, "remote host");
  assertPort(f.localPort, "local port");
  assertPort(f.remotePort, "remote port");
  return `${bracketIpv6(f.bindAddress)}:${f.localPort}:${bracketIpv6(f.remoteHost)}:${f.remotePort}`;
}

/** The `-L` argument of a unix socket forward: "/local/path:/remote/path". */
export function socketForwardSpec(localPath: string, remotePath: string): string {
  checkSocketPath(localPath, "local socket path");
  checkSocketPath(remotePath, "remote socket path");
  return `${localPath}:${remotePath}`;
}

/**
 * A TCP forward as a mux request carries it: what `ssh -O forward -L
 * forwardSpec(f)` sends (ssh's parse_forward drops the IPv6 brackets), so
 * that forwards opened either way are the same to the master.
 */
export function muxForward(f: LocalForward): MuxForward {
  forwardSpec(f); // the same checks
  return { listenHost: f.bindAddress, listenPort: f.localPort, connectHost: f.remoteHost, connectPort: f.remotePort };
}

/** A unix socket forward as a mux request carries it: both paths with the port PORT_STREAMLOCAL. */
export function muxSocketForward(localPath: string, remotePath: string): MuxForward {
  socketForwardSpec(localPath, remotePath); // the same checks
  return { listenHost: localPath, listenPort: PORT_STREAMLOCAL, connectHost: remotePath, connectPort: PORT_STREAMLOCAL };
}

/**
 * Quotes one word for the remote shell. sshd runs a remote command through
 * the user's shell, which re-splits the words ssh joined with spaces; single
 * quotes keep each word whole and inert.
 */
export function quoteRemoteWord(word: string): string {
  if (hasUnsafeChars(word)) throw new RangeError(`remote command word ${JSON.stringify(word)} holds control characters`);
  return singleQuote(word);
}

/** Options every mux client gets; see the module comment for why. */
function muxBase(ctx: SshContext): string[] {
  return [
    "-F", "/dev/null",
    "-S", escapeControlPath(ctx.controlPath),
    ...opts(["ControlMaster=no", "BatchMode=yes", "LogLevel=ERROR", "ProxyCommand=false"]),
  ];
}

function userConfig(ctx: SshContext): string[] {
  const port = ctx.target.port === null ? [] : ["-p", String(ctx.target.port)];
  return [...(ctx.configFile === null ? [] : ["-F", ctx.configFile]), ...port, ...opts(ctx.options)];
}

/**
 * The full ssh argv (without the binary name) for one operation.
 *
 * Remote commands (`kind: "command"`) must be fixed commands built by rdhpf:
 * each word is single-quoted for the remote shell, but the remote shell still
 * runs them, so never pass data from containers or users as a command.
 */
export function sshArgv(op: SshOperation, ctx: SshContext): string[] {
  const dest = ["--", destination(ctx.target)];
  switch (op.kind) {
    case "master":
      return [
        "-N", "-T",
        "-S", escapeControlPath(ctx.controlPath),
        ...opts([
          "ControlMaster=yes",
          "ControlPersist=no",
          "BatchMode=yes",
          // INFO, not ERROR, on the master only: its stderr is never logged
          // raw, only classified, and at ERROR a master ended by the
          // keepalive exits 255 with no message at all, while INFO says
          // "Timeout, server HOST not responding." and names the exact -L of
          // a failed mux forward ("requested local forward ... failed").
          "LogLevel=INFO",
          "ExitOnForwardFailure=no",
          // A LocalForward in the user's config for this host would take
          // local ports behind rdhpf's back.
          "ClearAllForwardings=yes",
          // A user config with ForkAfterAuthentication would detach the master from rdhpf (measured): the child would exit at once.
          "ForkAfterAuthentication=no",
        ]),
        ...userConfig(ctx),
        ...opts(TUNABLE_MASTER_DEFAULTS),
        ...dest,
      ];
    case "check":
    case "exit":
      return [...muxBase(ctx), "-O", op.kind, ...dest];
    case "forward":
    case "cancel":
      return [...muxBase(ctx), "-O", op.kind, ...op.forwards.flatMap((f) => ["-L", forwardSpec(f)]), ...dest];
    case "forward-socket":
    case "cancel-socket":
      return [
        ...muxBase(ctx),
        "-O", op.kind === "forward-socket" ? "forward" : "cancel",
        "-L", socketForwardSpec(op.localPath, op.remotePath),
        ...dest,
      ];
    case "command":
      if (op.command.length === 0) throw new RangeError("a remote command needs at least one word");
      return [...muxBase(ctx), "-T", ...dest, ...op.command.map(quoteRemoteWord)];
    case "resolve":
      // -T only silences "Pseudo-terminal will not be allocated" that ssh 9.2
      // prints for -G when stdin is not a terminal.
      return ["-G", "-T", ...userConfig(ctx), ...dest];
    case "version":
      // Prints "OpenSSH_9.2p1 ..." on stderr; reads no config, contacts nobody.
      return ["-V"];
  }
}
