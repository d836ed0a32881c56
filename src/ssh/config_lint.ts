/**
 * Warnings about settings in the user's ssh config that fight rdhpf, for the
 * Host rdhpf connects to, as the `ssh-config` package's `compute()` evaluates
 * them (first value wins, Host and Match blocks). Shown once at start and by
 * doctor; never fatal: ssh's own `-G` evaluation stays the authority for
 * what ssh does.
 *
 * What rdhpf itself passes (see argv.ts) decides what really conflicts: its
 * master gets ControlMaster=yes, ControlPersist=no, ExitOnForwardFailure=no
 * and ClearAllForwardings=yes on the command line, which beat the config
 * file, and its mux requests read no config at all (`-F /dev/null`).
 * Measured with OpenSSH 9.2 where stated.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import SSHConfig, { type Line, LineType } from "ssh-config";
import { z } from "zod";

const log = getLogger(["rdhpf", "ssh"]);

export const SshConfigFindingSchema = z.object({
  /** The directive, spelled as in ssh_config(5): "ControlMaster". */
  key: z.string(),
  /** Its effective value for the host. */
  value: z.string(),
  severity: z.literal("warn"),
  /** What the setting does to rdhpf or to what the user sees. */
  message: z.string(),
  /** What to do about it. */
  hint: z.string(),
});
/** One setting in the user's ssh config that fights rdhpf. */
export type SshConfigFinding = z.infer<typeof SshConfigFindingSchema>;

interface Rule {
  key: string;
  applies: (value: string, all: Record<string, string[]>) => boolean;
  explain: (value: string, host: string, all: Record<string, string[]>) => { message: string; hint: string };
}

const isNo = (v: string) => /^(no|false)$/i.test(v.trim());
const localPort = (spec: string) => /^(?:\S*:)?(\d+)(?:\s|$)/.exec(spec.trim())?.[1] ?? null;

const RULES: Rule[] = [
  {
    key: "ControlMaster",
    applies: (v) => !isNo(v),
    explain: (v, host, all) => ({
      message: `ControlMaster ${v} for ${host}: your own ssh and \`docker -H ssh://\` commands to this host share a connection of their own` +
        (all.controlpersist && !isNo(all.controlpersist[0] ?? "no") ? `, kept open by ControlPersist ${all.controlpersist[0]}` : "") +
        `; the Docker host's sshd shows it next to rdhpf's single connection, easily mistaken for rdhpf opening extra sessions`,
      hint: "nothing to change for rdhpf (it passes its own ControlMaster, ControlPath and ControlPersist, which take precedence); when counting SSH sessions on the Docker host, expect this one as well",
    }),
  },
  {
    key: "ControlPersist",
    applies: (v) => !isNo(v),
    explain: (v, host) => ({
      message: `ControlPersist ${v} for ${host}: a connection shared by your own ssh commands stays open in the background after they end; rdhpf's connection is not that one and ends with rdhpf`,
      hint: "nothing to change for rdhpf; use `rdhpf status`, not `ssh -O check`, to see rdhpf's connection",
    }),
  },
  {
    key: "ControlPath",
    applies: (v) => !isNo(v) && v.trim().toLowerCase() !== "none",
    explain: (v, host) => ({
      message: `ControlPath ${v} for ${host}: rdhpf keeps its control socket in its own runtime dir and ignores this one, so \`ssh -O check|forward|cancel ${host}\` typed by hand reaches your shared connection, not rdhpf's`,
      hint: "use `rdhpf status` to see rdhpf's connection and forwards",
    }),
  },
  {
    key: "ExitOnForwardFailure",
    applies: (v) => /^yes$/i.test(v.trim()),
    explain: (_v, host) => ({
      message: `ExitOnForwardFailure yes for ${host}: with it, one forward that cannot be set up (a local port in use) ends the whole connection at connect time; rdhpf passes ExitOnForwardFailure=no for its own connection, so only your other ssh sessions to this host are affected`,
      hint: "nothing to change for rdhpf; a port rdhpf cannot take is reported as `conflict` in `rdhpf status` and retried",
    }),
  },
  {
    key: "LocalForward",
    applies: () => true,
    explain: (v, host) => {
      const port = localPort(v);
      return {
        message: `LocalForward ${v} for ${host}: rdhpf's connection does not open it (it clears configured forwards), but your own ssh sessions to this host do` +
          (port ? `, taking local port ${port}; a container publishing ${port} then shows as \`conflict\` in rdhpf status while such a session is open` : ""),
        hint: `move the forward to a separate Host alias for interactive use (e.g. \`Host ${host}-tunnels\` with the same HostName), and give rdhpf the alias without forwards`,
      };
    },
  },
  {
    key: "DynamicForward",
    applies: () => true,
    explain: (v, host) => ({
      message: `DynamicForward ${v} for ${host}: rdhpf's connection does not open it (it clears configured forwards); your own ssh sessions to this host take local port ${localPort(v) ?? v} for a SOCKS proxy, which competes with a container publishing the same port`,
      hint: `move the forward to a separate Host alias for interactive use (e.g. \`Host ${host}-tunnels\`)`,
    }),
  },
  {
    key: "RemoteForward",
    applies: () => true,
    explain: (v, host) => ({
      message: `RemoteForward ${v} for ${host}: rdhpf's connection does not open it (it clears configured forwards), so nothing relies on rdhpf for it`,
      hint: "if you need this forward while rdhpf runs, keep a separate ssh session for it",
    }),
  },
  {
    key: "ClearAllForwardings",
    applies: (v) => /^yes$/i.test(v.trim()),
    explain: (_v, host) => ({
      message: `ClearAllForwardings yes for ${host}: every -L/-R/-D of ssh commands to this host is dropped silently (measured: \`ssh -O forward -L …\` then exits 0 and nothing listens); rdhpf's own forward requests do not read your ssh config and are not affected, forwards you add by hand are`,
      hint: "remove it for this Host unless you mean it; rdhpf clears configured forwards on its own connection anyway",
    }),
  },
  {
    key: "StrictHostKeyChecking",
    applies: (v) => /^(no|off|false)$/i.test(v.trim()),
    explain: (v, host) => ({
      message: `StrictHostKeyChecking ${v} for ${host}: any host key is accepted for a host not yet in known_hosts (the first connection can be intercepted), and with a changed key ssh still connects but disables port forwarding (ssh_config(5)), so rdhpf would connect and every forward would fail`,
      hint: `set \`StrictHostKeyChecking yes\` for this Host, check the host's fingerprint and add its key: ssh-keyscan ${host} >> ~/.ssh/known_hosts`,
    }),
  },
  {
    key: "StrictHostKeyChecking",
    applies: (v) => /^accept-new$/i.test(v.trim()),
    explain: (_v, host) => ({
      message: `StrictHostKeyChecking accept-new for ${host}: the first connection accepts whatever key the host presents and writes it to known_hosts; rdhpf logs a warning when that happens, but an unattended service will trust an intercepted first connection`,
      hint: `check the host's fingerprint once, add its key (ssh-keyscan ${host} >> ~/.ssh/known_hosts) and set \`StrictHostKeyChecking yes\` for this Host`,
    }),
  },
  {
    key: "ForwardAgent",
    applies: (v) => !isNo(v),
    explain: (v, host) => ({
      message: `ForwardAgent ${v} for ${host}: rdhpf's connection, open for weeks, forwards your ssh-agent to the Docker host, where anyone with root there can use your keys while it is connected; rdhpf does not need it`,
      hint: "set `ForwardAgent no` for this Host, or pass -o ForwardAgent=no to rdhpf",
    }),
  },
  {
    key: "ForkAfterAuthentication",
    applies: (v) => /^yes$/i.test(v.trim()),
    explain: (_v, host) => ({
      message: `ForkAfterAuthentication yes for ${host}: ssh goes to the background after logging in (like -f); measured, rdhpf's master process then exits at once while a detached copy keeps the connection, so rdhpf loses track of its connection and reconnects again and again`,
      hint: "remove it for this Host (or use a separate alias for the sessions that need it)",
    }),
  },
];

function valuesOf(raw: string | string[] | undefined): string[] {
  if (raw === undefined) return [];
  return Array.isArray(raw) ? raw : [raw];
}

// CanonicalizeHostName makes ssh-config's compute() run nslookup: a lint
// must not touch the network, so it is dropped before computing.
function dropCanonicalization(lines: Line[]): void {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as Line;
    if (line.type !== LineType.DIRECTIVE) continue;
    if (/^CanonicalizeHostName$/i.test(line.param)) lines.splice(i, 1);
    else if ("config" in line) dropCanonicalization(line.config);
  }
}

/**
 * Settings for `host` (an alias or host name as given in TARGET, without
 * user and port) that fight rdhpf, one finding per value. Never throws: an
 * unparsable config yields no findings (ssh reports its own errors).
 * `Match exec` blocks are not run.
 */
export function lintSshConfig(configText: string, host: string, user?: string): SshConfigFinding[] {
  let computed: Record<string, string | string[]>;
  try {
    const config = SSHConfig.parse(configText);
    dropCanonicalization(config);
    const opts = { ignoreCase: true, matchExec: false };
    computed = user ? config.compute({ Host: host, User: user }, opts) : config.compute(host, opts);
  } catch (err) {
    log.debug("ssh config not understood; no warnings about it", { error: String(err) });
    return [];
  }
  const all: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(computed)) all[k] = valuesOf(v).map(String);
  const findings: SshConfigFinding[] = [];
  for (const rule of RULES) {
    for (const value of all[rule.key.toLowerCase()] ?? []) {
      if (!rule.applies(value, all)) continue;
      findings.push({ key: rule.key, value, severity: "warn", ...rule.explain(value, host, all) });
    }
  }
  return findings;
}

const MAX_INCLUDE_DEPTH = 16; // as ssh's READCONF_MAX_DEPTH

function splitArgs(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

/** Files an Include argument names: `~` expanded, relative to ~/.ssh, wildcards in the last path component, sorted as ssh does. */
function includeFiles(arg: string, home: string): string[] {
  const expanded = arg.startsWith("~/") ? join(home, arg.slice(2)) : arg;
  const path = isAbsolute(expanded) ? expanded : join(home, ".ssh", expanded);
  if (!/[*?]/.test(basename(path))) return [path];
  try {
    const re = globToRegExp(basename(path));
    return readdirSync(dirname(path)).filter((f) => re.test(f)).sort().map((f) => join(dirname(path), f));
  } catch {
    return [];
  }
}

function inlineIncludes(text: string, home: string, depth: number): string {
  return text.split(/\r?\n/).map((line) => {
    const m = /^\s*Include\s*[=\s]\s*(.+?)\s*$/i.exec(line);
    if (!m || depth >= MAX_INCLUDE_DEPTH) return line;
    const parts: string[] = [];
    for (const arg of splitArgs(m[1] ?? "")) {
      for (const file of includeFiles(arg, home)) {
        try {
          parts.push(inlineIncludes(readFileSync(file, "utf8"), home, depth + 1));
        } catch {
          // ssh skips Include files it cannot read, too
        }
      }
    }
    return parts.join("\n");
  }).join("\n");
}

/**
 * The user's ssh config text (`~/.ssh/config`, or `path` as given to -F),
 * with Include files inlined in place; null when the file does not exist.
 * An Include inside a Host block is inlined unconditionally, which can only
 * add warnings, never hide one.
 */
export function readUserSshConfig(path?: string, home: string = process.env.HOME || homedir()): string | null {
  const file = path ?? join(home, ".ssh", "config");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  return inlineIncludes(text, home, 0);
}
