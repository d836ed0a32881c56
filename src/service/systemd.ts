/**
 * The systemd user unit for Linux (`~/.config/systemd/user/rdhpf.service`).
 * Pure: spec in, unit text out. Quoting follows systemd.syntax(7) and the
 * ExecStart= rules of systemd.service(5).
 *
 * @module
 */
import { usageError } from "../errors.ts";
import { MANAGED_MARKER, parseServiceSpec, RESTART_DELAY_S, serviceArgv, type ServiceSpec } from "./spec.ts";

/** Unit name; `systemctl --user … rdhpf.service` addresses it. */
export const SYSTEMD_UNIT = "rdhpf.service";


const C_ESCAPES: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" };

function cQuote(text: string, { dollars }: { dollars: boolean }): string {
  let out = text.replace(/[\\"\n\t\r]/g, (c) => C_ESCAPES[c] as string).replace(/%/g, "%%");
  if (dollars) out = out.replace(/\$/g, "$$$$");
  return `"${out}"`;
}

/**
 * Quotes one ExecStart= argument: C escapes inside double quotes, `%` → `%%`
 * (specifiers), `$` → `$$` (environment substitution). A quoted `";"` stays
 * an argument, not a command separator (checked with systemd-analyze verify).
 */
export function systemdQuoteArg(arg: string): string {
  return cQuote(arg, { dollars: true });
}

/**
 * Quotes the executable path. systemd does not substitute `$` there, and
 * refuses paths holding `"`, `'` or `\` ("Executable name contains special
 * characters", measured with systemd 252), so those are a usage error here.
 */
export function systemdQuoteExecutable(path: string): string {
  if (/["'\\\n\t\r]/.test(path)) {
    throw usageError(
      `systemd cannot start an executable whose path contains quotes, backslashes or line breaks: ${JSON.stringify(path)}`,
      "install the binary at a plain path such as /usr/local/bin/rdhpf and pass --binary with it",
    );
  }
  return cQuote(path, { dollars: false });
}

/** Renders the unit for `spec`. Throws a usage error for input systemd cannot carry. */
export function systemdUnit(input: ServiceSpec): string {
  const spec = parseServiceSpec(input);
  const [binary, ...args] = serviceArgv(spec);
  const execStart = [systemdQuoteExecutable(binary as string), ...args.map(systemdQuoteArg)].join(" ");
  // Environment= takes the same quoting; `$` is not expanded there.
  const env = Object.entries(spec.env).map(([k, v]) => `Environment=${cQuote(`${k}=${v}`, { dollars: false })}`);
  return [
    `# ${MANAGED_MARKER}: "rdhpf service uninstall" removes this file.`,
    `# Edits are replaced by the next "rdhpf service install".`,
    `[Unit]`,
    `Description=rdhpf: forward the published ports of a remote Docker host to localhost`,
    // No After=network-online.target: a user manager has no such unit, the
    // line would be silently ignored (systemd/systemd#3312). rdhpf plus the
    // restart below cover a network that comes up late.
    ``,
    `[Service]`,
    `Type=exec`,
    `ExecStart=${execStart}`,
    ...env,
    // Not RestartPreventExitStatus=2: exit 2 includes "unreachable at first
    // start", common at boot; the slow restart is explained at RESTART_DELAY_S.
    `Restart=on-failure`,
    `RestartSec=${RESTART_DELAY_S}`,
    // SIGTERM to rdhpf only, and nothing else is killed when it exits: on
    // SIGTERM rdhpf cancels its forwards and ends its ssh master itself
    // (within 2 s); after a hand-over (SIGUSR2) or a crash the master must
    // outlive it, so that the next start adopts it with every connection
    // (KillMode=mixed would SIGKILL it as soon as rdhpf exits).
    `KillMode=process`,
    `TimeoutStopSec=10`,
    ``,
    `[Install]`,
    `WantedBy=default.target`,
    ``,
  ].join("\n");
}

/** True when `text` is a unit that `rdhpf service install` wrote. */
export function isManagedUnit(text: string): boolean {
  return text.startsWith(`# ${MANAGED_MARKER}:`);
}

const C_UNESCAPES: Record<string, string> = { "\\": "\\", '"': '"', n: "\n", t: "\t", r: "\r" };

/**
 * The argv of a unit's ExecStart= line as `systemdUnit` wrote it (every word
 * double-quoted), or null when there is no such line or it is not in that
 * form: `rdhpf service upgrade` finds the installed binary and the target here.
 */
export function unitExecStartArgv(text: string): string[] | null {
  const line = text.split("\n").find((l) => l.startsWith("ExecStart="));
  if (line === undefined) return null;
  const words: string[] = [];
  const re = /\s*"((?:[^"\\]|\\.)*)"/y;
  let rest = line.slice("ExecStart=".length);
  while (rest.trim() !== "") {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) return null;
    const unquoted = (m[1] as string).replace(/\\(.)/g, (_, c: string) => C_UNESCAPES[c] ?? c).replace(/%%/g, "%");
    // The executable is quoted without `$` doubling (systemd does not expand it there).
    words.push(words.length === 0 ? unquoted : unquoted.replace(/\$\$/g, "$"));
    rest = rest.slice(m[0].length);
  }
  return words.length > 0 ? words : null;
}
