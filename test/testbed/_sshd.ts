/**
 * The OpenSSH server of a test bed and the client files that trust it.
 *
 * @module
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./_exec.ts";
import { spawnInNetns, tail, waitFor } from "./_daemons.ts";

/** File layout of the SSH side of a test bed. */
export interface SshPaths {
  hostKey: string;
  clientKey: string;
  authorizedKeys: string;
  knownHosts: string;
  clientConfig: string;
  sshdConfig: string;
  sshdPidFile: string;
  sshdLog: string;
  /**
   * HOME of the remote sessions (an empty dir of the test bed): the remote
   * user is this machine's root, whose own shell rc (pyenv, conda, …) must
   * not run in every remote command, nor leave its locks behind when a test
   * kills a session mid-way.
   */
  remoteHome: string;
  /** sshd's ForceCommand when the test bed's shell start-up is made heavy: sleeps, then runs the client's command. */
  heavyShellScript: string;
}

/** Paths under the test bed dir. */
export function sshPaths(dir: string): SshPaths {
  return {
    hostKey: join(dir, "ssh_host_ed25519_key"),
    clientKey: join(dir, "id_ed25519"),
    authorizedKeys: join(dir, "authorized_keys"),
    knownHosts: join(dir, "known_hosts"),
    clientConfig: join(dir, "ssh_config"),
    sshdConfig: join(dir, "sshd_config"),
    sshdPidFile: join(dir, "sshd.pid"),
    sshdLog: join(dir, "sshd.log"),
    remoteHome: join(dir, "home"),
    heavyShellScript: join(dir, "heavy_shell.sh"),
  };
}

/** Generates host and client keys (ed25519, no passphrase). */
export async function generateKeys(p: SshPaths, comment: string): Promise<void> {
  const gen = (file: string, c: string) => run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", c, "-f", file]);
  const results = await Promise.all([gen(p.hostKey, `${comment}-host`), gen(p.clientKey, `${comment}-client`)]);
  for (const r of results) {
    if (r.code !== 0) throw new Error(`ssh-keygen failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
  writeFileSync(p.authorizedKeys, readFileSync(`${p.clientKey}.pub`, "utf8"), { mode: 0o600 });
}

/** Whether root's password field marks the account locked ("!"), which sshd enforces unless PAM decides. */
function rootLocked(): boolean {
  try {
    const line = readFileSync("/etc/shadow", "utf8").split("\n").find((l) => l.startsWith("root:"));
    return line?.split(":")[1]?.startsWith("!") ?? false;
  } catch {
    return false;
  }
}

/** Inputs of {@link sshdConfigText}. */
export interface SshdSettings {
  listenAddress: string;
  port: number;
  dockerSocket: string;
  extraConfig: readonly string[];
  usePam: boolean;
  /**
   * A ForceCommand that every session runs instead of the client's command
   * (it then runs that command itself), or null. Not BASH_ENV: bash started
   * by sshd reads ~/.bashrc and returns before it would look at BASH_ENV.
   */
  forceCommand: string | null;
}

/**
 * The sshd_config text. sshd takes the FIRST value of each keyword, so the
 * caller's extra lines come before our defaults (a `Match` block and what
 * follows it must stay last).
 */
export function sshdConfigText(p: SshPaths, s: SshdSettings): string {
  const matchAt = s.extraConfig.findIndex((l) => /^\s*Match\s/i.test(l));
  const before = matchAt < 0 ? s.extraConfig : s.extraConfig.slice(0, matchAt);
  // sshd uses only its FIRST SetEnv line: the caller's variables and ours go into one.
  const isSetEnv = (l: string) => /^\s*SetEnv\s/i.test(l);
  const given = before.filter(isSetEnv).flatMap((l) => l.trim().split(/\s+/).slice(1));
  const defaults = [
    // Remote `docker` commands (and `docker system dial-stdio`) reach this test bed's daemon.
    `DOCKER_HOST=unix://${s.dockerSocket}`,
    `HOME=${p.remoteHome}`,
  ].filter((d) => !given.some((g) => g.split("=")[0] === d.split("=")[0]));
  const head = before.filter((l) => !isSetEnv(l));
  const matchBlock = matchAt < 0 ? [] : s.extraConfig.slice(matchAt);
  return [
    ...head,
    `ListenAddress ${s.listenAddress}`,
    `Port ${s.port}`,
    `HostKey ${p.hostKey}`,
    `AuthorizedKeysFile ${p.authorizedKeys}`,
    `PidFile ${p.sshdPidFile}`,
    "StrictModes no",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
    `UsePAM ${s.usePam ? "yes" : "no"}`,
    `SetEnv ${[...given, ...defaults].join(" ")}`,
    ...(s.forceCommand ? [`ForceCommand ${s.forceCommand}`] : []),
    "LogLevel INFO",
    "AllowTcpForwarding yes",
    "AllowStreamLocalForwarding yes",
    "MaxSessions 50",
    "MaxStartups 100:30:200",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "Subsystem sftp internal-sftp",
    ...matchBlock,
    "",
  ].join("\n");
}

/**
 * sshd's privilege separation directory. A brand-new Debian machine has none
 * (systemd's tmpfiles or the ssh service would make it), and both `sshd -t`
 * and sshd itself refuse to run without it: "Missing privilege separation
 * directory: /run/sshd". It must be root-owned and not group/world-writable.
 */
export function ensurePrivsepDir(): void {
  mkdirSync("/run/sshd", { recursive: true });
  chownSync("/run/sshd", 0, 0);
  chmodSync("/run/sshd", 0o755);
}

/** Writes sshd_config and checks it with `sshd -t` (which needs the privsep dir too). */
export async function writeSshdConfig(p: SshPaths, s: Omit<SshdSettings, "usePam">): Promise<void> {
  ensurePrivsepDir();
  writeFileSync(p.sshdConfig, sshdConfigText(p, { ...s, usePam: rootLocked() }), { mode: 0o600 });
  const r = await run(["/usr/sbin/sshd", "-t", "-f", p.sshdConfig]);
  if (r.code !== 0) throw new Error(`sshd rejected its config ${p.sshdConfig}: ${r.stderr.trim()}`);
}

/**
 * Writes the ForceCommand that makes every session's shell start-up take
 * `ms` longer, as on real hosts whose shell rc runs conda, pyenv or nvm
 * init. sshd runs it as `<login shell> -c SCRIPT` (so the user's rc is read
 * as before); it sleeps, then runs the client's command with that shell. It
 * lives in the test bed's dir: this machine's own dotfiles stay untouched.
 */
export function writeHeavyShell(p: SshPaths, ms: number): void {
  const text = [
    "#!/bin/sh",
    "# test bed: a slow shell start-up, like conda/pyenv/nvm init in a shell rc",
    `sleep ${(ms / 1000).toFixed(3)}`,
    "# Lets a test see that the session really went through this script.",
    `export RDHPF_TESTBED_SHELL_SLEPT_MS=${ms}`,
    'if [ -n "$SSH_ORIGINAL_COMMAND" ]; then exec "${SHELL:-/bin/sh}" -c "$SSH_ORIGINAL_COMMAND"; fi',
    'exec "${SHELL:-/bin/sh}" -l',
    "",
  ].join("\n");
  writeFileSync(p.heavyShellScript, text, { mode: 0o755 });
}

/** known_hosts line for the real host key (bracketed form for a non-22 port, as ssh looks it up). */
export function knownHostsLine(address: string, port: number, hostPublicKey: string): string {
  const host = port === 22 ? address : `[${address}]:${port}`;
  const [type, key] = hostPublicKey.trim().split(/\s+/);
  return `${host} ${type} ${key}\n`;
}

/** Client config for `ssh -F`: strict host key checking against the real key, never a prompt. */
export function clientConfigText(p: SshPaths, alias: string, address: string, port: number): string {
  return [
    `Host ${alias}`,
    `  HostName ${address}`,
    "  User root",
    `  Port ${port}`,
    `  IdentityFile ${p.clientKey}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${p.knownHosts}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    "",
  ].join("\n");
}

/** Writes known_hosts and the client config. */
export function writeClientFiles(p: SshPaths, alias: string, address: string, port: number): void {
  writeFileSync(p.knownHosts, knownHostsLine(address, port, readFileSync(`${p.hostKey}.pub`, "utf8")), { mode: 0o600 });
  writeFileSync(p.clientConfig, clientConfigText(p, alias, address, port), { mode: 0o600 });
}

function listeningCount(logFile: string): number {
  try {
    return readFileSync(logFile, "utf8").split("Server listening on").length - 1;
  } catch {
    return 0;
  }
}

/**
 * Prepares a directory that sshd's sessions see as /run (and so as
 * /var/run): it holds the privilege separation directory, and whatever the
 * caller puts there (e.g. a dockerd socket named docker.sock).
 */
export function preparePrivateRun(runDir: string): void {
  mkdirSync(join(runDir, "sshd"), { recursive: true, mode: 0o755 });
  chmodSync(runDir, 0o755);
  chmodSync(join(runDir, "sshd"), 0o755);
}

/**
 * The shell script of {@link privateRunArgv} ($1 = runDir, $2 = prefix of
 * every test bed directory). A new mount namespace starts with a copy of
 * every mount of the machine, among them other test beds' network
 * namespaces (/run/netns) and container mounts: holding them would keep
 * those alive after their owners' teardown (a veth that does not go away),
 * and their teardown sweeps would take our sshd for one of their container
 * processes. So those are unmounted first, deepest first, before /run is
 * replaced (after it, /run/netns/... would name the new /run).
 */
const PRIVATE_RUN_SCRIPT = [
  'while read -r _ _ _ _ m _; do case "$m" in /run/netns|/run/netns/*|"$2"*) echo "$m";; esac; done </proc/self/mountinfo |',
  '  sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done',
  'mount --bind "$1" /run || exit 1',
  'shift 2',
  'exec "$@"',
].join("\n");

/**
 * argv that runs sshd in a private mount namespace where `runDir` is
 * mounted over /run. The mount exists only there (this machine's /run is
 * untouched) and ends with the last process of that namespace. Every step
 * execs in place, so the spawned pid is sshd's own.
 */
export function privateRunArgv(runDir: string, testbedPrefix: string, argv: readonly string[]): string[] {
  return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", PRIVATE_RUN_SCRIPT, "sh", runDir, testbedPrefix, ...argv];
}

/**
 * Starts sshd in the namespace. `-D` keeps it in the foreground (our pid is
 * the listener's); without it the per-connection log lines, including
 * "Accepted publickey", never reach the -E file. With `privateRun`, sshd and
 * its sessions see that directory as /run (see {@link privateRunArgv}).
 */
export async function startSshd(netns: string, p: SshPaths, opts: { privateRun?: { runDir: string; testbedPrefix: string } } = {}): Promise<number> {
  ensurePrivsepDir(); // again: something may have removed it since the config check
  const before = listeningCount(p.sshdLog);
  const sshd = ["/usr/sbin/sshd", "-D", "-f", p.sshdConfig, "-E", p.sshdLog];
  const pid = spawnInNetns(netns, opts.privateRun ? privateRunArgv(opts.privateRun.runDir, opts.privateRun.testbedPrefix, sshd) : sshd, join(p.sshdLog + ".stderr"));
  await waitFor("sshd", pid, p.sshdLog, () => listeningCount(p.sshdLog) > before, 15_000).catch((e: Error) => {
    throw new Error(`${e.message}\nstderr:\n${tail(p.sshdLog + ".stderr")}`);
  });
  return pid;
}

/** Number of successful public key logins in the log (one per SSH connection). */
export function acceptedCount(logFile: string): number {
  try {
    return readFileSync(logFile, "utf8").split("Accepted publickey").length - 1;
  } catch {
    return 0;
  }
}
