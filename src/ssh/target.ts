/**
 * The SSH target the user names, parsed and checked before ssh ever sees it.
 *
 * Two forms: `ssh://[user@]host[:port]` (IPv6 in brackets, as Docker's
 * DOCKER_HOST uses it) and `[user@]alias` (a host or an ssh config alias).
 * Anything that ssh could read as an option (a leading "-"), whitespace and
 * control characters are refused here: this is the argument-injection
 * barrier, together with passing the destination after `--`.
 *
 * @module
 */
import { isIPv6 } from "node:net";
import { z } from "zod";
import { usageError } from "../errors.ts";
import { PORT_HINT, parsePortText } from "../port.ts";
import { hasUnsafeChars, quoteInput } from "../text_safety.ts";

export const SshTargetSchema = z.object({
  /** The TARGET exactly as given. */
  raw: z.string(),
  user: z.string().nullable(),
  /** Host name, address (IPv6 without brackets) or ssh config alias. */
  host: z.string(),
  port: z.number().int().nullable(),
});
/** A parsed, validated SSH target. */
export type SshTarget = z.infer<typeof SshTargetSchema>;

const FORMS = "ssh://[user@]host[:port] (IPv6 in brackets: ssh://root@[fd00::1]:2222) or an ssh config alias [user@]alias";

// Conservative on purpose: these end up as ssh arguments. ssh itself rejects
// shell metacharacters in user names; host names and config aliases in
// practice use letters, digits, ".", "_" and "-".
const USER_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;
const HOST_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function refuse(what: string, raw: string, hint: string = `use ${FORMS}`): never {
  throw usageError(`invalid SSH target ${quoteInput(raw)}: ${what}`, hint);
}

function checkUser(user: string, raw: string): string {
  if (user === "") refuse("the user before \"@\" is empty", raw);
  if (user.startsWith("-")) refuse(`the user ${quoteInput(user)} starts with "-" and would be read by ssh as an option`, raw);
  if (user.includes(":")) refuse("a password in the target is not supported", raw, "rdhpf authenticates with keys (BatchMode); remove \":password\" and use an SSH key or agent");
  if (!USER_RE.test(user)) refuse(`the user ${quoteInput(user)} holds characters other than letters, digits, ".", "_" and "-"`, raw);
  return user;
}

function checkHost(host: string, raw: string): string {
  if (host === "") refuse("the host is empty", raw);
  if (host.startsWith("-")) refuse(`the host ${quoteInput(host)} starts with "-" and would be read by ssh as an option`, raw);
  if (!HOST_RE.test(host)) refuse(`the host ${quoteInput(host)} holds characters other than letters, digits, ".", "_" and "-"`, raw);
  return host;
}

function targetPort(port: string, raw: string): number {
  const p = parsePortText(port);
  if (p.ok) return p.port;
  const hint = `${PORT_HINT}, e.g. ssh://host:2222`;
  if (p.problem === "not-a-number") refuse(`the port ${quoteInput(port)} is not a number`, raw, hint);
  return refuse(`the port ${p.value} is out of range`, raw, hint);
}

function splitUser(s: string, raw: string): { user: string | null; rest: string } {
  const at = s.indexOf("@");
  if (at < 0) return { user: null, rest: s };
  if (s.indexOf("@", at + 1) >= 0) refuse("it holds more than one \"@\"", raw);
  return { user: checkUser(s.slice(0, at), raw), rest: s.slice(at + 1) };
}

function schemeHint(scheme: string): string {
  const why = "rdhpf reaches the remote Docker engine and its ports through one SSH connection, so it needs an ssh:// target";
  if (scheme === "tcp" || scheme === "http" || scheme === "https") {
    return `${why}; a ${scheme}:// endpoint is a Docker API address, not an SSH login: use ssh://[user@]host[:port] of the same machine`;
  }
  if (scheme === "unix" || scheme === "npipe") return `${why}; ${scheme}:// is a local engine, whose ports are already local`;
  return `${why}: ${FORMS}`;
}

function parseUrl(raw: string, authority: string): SshTarget {
  if (/[/?#]/.test(authority)) refuse("an ssh:// target takes no path, query or fragment", raw, "write ssh://[user@]host[:port] with nothing after the port");
  const { user, rest } = splitUser(authority, raw);
  let host: string;
  let portText: string | null = null;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) refuse("the \"[\" of an IPv6 address is not closed", raw);
    host = rest.slice(1, close);
    if (!isIPv6(host)) refuse(`${quoteInput(host)} in brackets is not an IPv6 address`, raw);
    const after = rest.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) refuse(`unexpected ${quoteInput(after)} after the IPv6 address`, raw);
      portText = after.slice(1);
    }
  } else {
    const colon = rest.indexOf(":");
    if (colon >= 0) {
      host = rest.slice(0, colon);
      portText = rest.slice(colon + 1);
      if (portText.includes(":")) refuse("an IPv6 address must be written in brackets", raw, "e.g. ssh://root@[fd00::1]:2222");
    } else {
      host = rest;
    }
    checkHost(host, raw);
  }
  const port = portText === null ? null : targetPort(portText, raw);
  return { raw, user, host, port };
}

function parseAlias(raw: string): SshTarget {
  const { user, rest } = splitUser(raw, raw);
  if (isIPv6(rest)) return { raw, user, host: rest, port: null };
  if (rest.startsWith("[")) refuse("brackets belong to the ssh:// form", raw, "e.g. ssh://root@[fd00::1]:2222");
  if (rest.includes(":")) refuse("a port needs the ssh:// form", raw, `write ssh://${raw}`);
  return { raw, user, host: checkHost(rest, raw), port: null };
}

/**
 * Parses a TARGET. Throws a usage error (exit 2) that names the bad input and
 * the right form for anything ssh could misread.
 */
export function parseTarget(raw: string): SshTarget {
  if (raw === "") refuse("it is empty", raw);
  if (raw.startsWith("-")) refuse("it starts with \"-\" and would be read by ssh as an option", raw);
  if (hasUnsafeChars(raw)) refuse("it holds control characters or a line break", raw);
  if (/\s/.test(raw)) refuse("it holds whitespace", raw);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== "ssh") refuse(`${name}:// is not supported`, raw, schemeHint(name));
    return parseUrl(raw, raw.slice(scheme[0].length));
  }
  return parseAlias(raw);
}

/** What goes after `--` on the ssh command line: "user@host" or "host" (IPv6 without brackets; the port goes via -p). */
export function destination(t: SshTarget): string {
  return t.user === null ? t.host : `${t.user}@${t.host}`;
}

/** Where the default TARGET came from. */
export type DefaultTargetSource = "RDHPF_HOST" | "DOCKER_HOST";

/** The TARGET to use without --host: `$RDHPF_HOST`, then `$DOCKER_HOST` when it is ssh://; else null. */
export function defaultTargetFromEnv(env: Record<string, string | undefined>): { raw: string; source: DefaultTargetSource } | null {
  const rdhpfHost = env.RDHPF_HOST;
  if (rdhpfHost !== undefined && rdhpfHost !== "") return { raw: rdhpfHost, source: "RDHPF_HOST" };
  const dockerHost = env.DOCKER_HOST;
  if (dockerHost !== undefined && /^ssh:\/\//i.test(dockerHost)) return { raw: dockerHost, source: "DOCKER_HOST" };
  return null;
}

/** ssh options rdhpf sets itself, or that would break it, with the reason shown to the user. */
const RESERVED_OPTIONS: ReadonlyMap<string, string> = new Map([
  ["controlmaster", "rdhpf runs its own ControlMaster connection"],
  ["controlpath", "rdhpf keeps the control socket in its private runtime dir"],
  ["controlpersist", "the ControlMaster must stay rdhpf's child and end with it"],
  ["batchmode", "rdhpf runs unattended and always sets BatchMode=yes so that ssh never prompts"],
  ["loglevel", "rdhpf sets LogLevel itself to read ssh's messages; use --log-level debug for diagnostics"],
  ["exitonforwardfailure", "one busy local port would then end the connection and every forward"],
  ["clearallforwardings", "rdhpf manages the forwards of its connection itself"],
  ["localforward", "rdhpf manages the forwards of its connection itself"],
  ["remoteforward", "rdhpf manages the forwards of its connection itself"],
  ["dynamicforward", "rdhpf manages the forwards of its connection itself"],
  ["remotecommand", "rdhpf runs its own commands through the connection"],
  ["requesttty", "rdhpf's connection carries no terminal"],
  ["sessiontype", "rdhpf's connection must stay a plain session"],
  ["forkafterauthentication", "the ControlMaster must stay rdhpf's child"],
  ["stdinnull", "rdhpf feeds ssh's stdin itself"],
]);

/** StrictHostKeyChecking values that keep host key checking on and never accept a key silently. */
const SAFE_HOST_KEY_CHECKING = new Set(["yes", "ask"]);

function refuseOption(kv: string, what: string, hint: string): never {
  throw usageError(`invalid ssh option ${quoteInput(kv)}: ${what}`, hint);
}

/**
 * Checks one `-o Key=Value` for ssh and returns it unchanged. Refuses
 * malformed input, values ssh could misread, and the keys rdhpf owns.
 */
export function validateSshOption(kv: string): string {
  const form = "write -o Key=Value, e.g. -o ServerAliveInterval=30";
  const eq = kv.indexOf("=");
  if (eq < 0) refuseOption(kv, "it has no \"=\"", form);
  const key = kv.slice(0, eq);
  const value = kv.slice(eq + 1);
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key)) refuseOption(kv, `the key ${quoteInput(key)} is not an ssh option name (letters and digits)`, form);
  if (value === "") refuseOption(kv, "the value is empty", form);
  if (hasUnsafeChars(value)) refuseOption(kv, "the value holds control characters or a line break", form);
  if (value.startsWith("-")) refuseOption(kv, "the value starts with \"-\"", "a value starting with \"-\" could be read as an option; ssh options take none");
  const reason = RESERVED_OPTIONS.get(key.toLowerCase());
  if (reason) refuseOption(kv, `${key} cannot be set`, reason);
  if (key.toLowerCase() === "stricthostkeychecking" && !SAFE_HOST_KEY_CHECKING.has(value.toLowerCase())) {
    refuseOption(kv, "rdhpf never turns host key checking off or accepts new host keys silently", "verify the host's fingerprint and add its key to known_hosts (ssh-keyscan HOST >> ~/.ssh/known_hosts)");
  }
  return kv;
}
