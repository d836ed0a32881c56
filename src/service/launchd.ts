/**
 * The LaunchAgent property list for macOS (`~/Library/LaunchAgents/com.rdhpf.plist`).
 * Pure: spec in, XML text out. See launchd.plist(5).
 *
 * @module
 */
import { join } from "node:path";
import { MANAGED_MARKER, parseServiceSpec, RESTART_DELAY_S, serviceArgv, type ServiceSpec } from "./spec.ts";

/** launchd job label; the plist file is named after it, as launchd.plist(5) expects. */
export const LAUNCHD_LABEL = "com.rdhpf";

/** launchd's ThrottleInterval: launchd has no "don't restart on exit 2" switch; see RESTART_DELAY_S. */
export const LAUNCHD_THROTTLE_S = RESTART_DELAY_S;

/** `<dir>/stdout.log` and `<dir>/stderr.log`, where launchd sends the job's output. */
export function launchdLogPaths(logDir: string): { stdout: string; stderr: string } {
  return { stdout: join(logDir, "stdout.log"), stderr: join(logDir, "stderr.log") };
}

/** Escapes text for an XML element body. CR is a character reference because XML parsers turn a literal CR into LF. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;" })[c] as string);
}

function str(text: string): string {
  return `<string>${xmlEscape(text)}</string>`;
}

/** Renders the LaunchAgent plist for `spec` under `label`. Throws a usage error for input no plist can carry. */
export function launchdPlist(input: ServiceSpec, label: string = LAUNCHD_LABEL): string {
  const spec = parseServiceSpec(input);
  const logs = launchdLogPaths(spec.logDir);
  const args = serviceArgv(spec).map((a) => `    ${str(a)}`);
  const env = Object.entries(spec.env).map(([k, v]) => `    <key>${xmlEscape(k)}</key>\n    ${str(v)}`);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`,
    `<!-- ${MANAGED_MARKER}. "rdhpf service uninstall" removes it; edits are replaced by the next install. -->`,
    `<plist version="1.0">`,
    `<dict>`,
    `  <key>Label</key>`,
    `  ${str(label)}`,
    `  <key>ProgramArguments</key>`,
    `  <array>`,
    ...args,
    `  </array>`,
    `  <key>RunAtLoad</key>`,
    `  <true/>`,
    // Restart after a crash or error exit, but not after a clean exit (0):
    // rdhpf exits 0 only when asked to stop, and that wish should stand.
    `  <key>KeepAlive</key>`,
    `  <dict>`,
    `    <key>SuccessfulExit</key>`,
    `    <false/>`,
    `  </dict>`,
    `  <key>ThrottleInterval</key>`,
    `  <integer>${LAUNCHD_THROTTLE_S}</integer>`,
    // Not "Background": launchd throttles CPU and I/O of background jobs, and
    // the ssh master started by rdhpf inherits that while it carries every
    // forwarded connection the user is waiting on.
    `  <key>ProcessType</key>`,
    `  ${str("Standard")}`,
    // launchd kills the job's process group when rdhpf exits unless told
    // not to; the ssh master is in that group and must outlive rdhpf after a
    // hand-over (SIGUSR2) or a crash, for the next start to adopt it. On
    // SIGTERM rdhpf ends the master itself.
    `  <key>AbandonProcessGroup</key>`,
    `  <true/>`,
    `  <key>EnvironmentVariables</key>`,
    `  <dict>`,
    ...env,
    `  </dict>`,
    `  <key>StandardOutPath</key>`,
    `  ${str(logs.stdout)}`,
    `  <key>StandardErrorPath</key>`,
    `  ${str(logs.stderr)}`,
    `</dict>`,
    `</plist>`,
    ``,
  ].join("\n");
}

/** True when `text` is a plist that `rdhpf service install` wrote. */
export function isManagedPlist(text: string): boolean {
  return text.includes(`<!-- ${MANAGED_MARKER}.`);
}

/**
 * The ProgramArguments of a plist as `launchdPlist` wrote it, or null when
 * it has none: `rdhpf service upgrade` finds the installed binary and the
 * target here.
 */
export function plistProgramArguments(text: string): string[] | null {
  const m = /<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(text);
  if (!m) return null;
  const args = [...(m[1] as string).matchAll(/<string>([\s\S]*?)<\/string>/g)].map((s) => xmlUnescape(s[1] as string));
  return args.length > 0 ? args : null;
}

function xmlUnescape(text: string): string {
  return text.replace(/&(amp|lt|gt|#13);/g, (_, e: string) => ({ amp: "&", lt: "<", gt: ">", "#13": "\r" })[e] as string);
}
