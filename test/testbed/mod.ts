/**
 * A real remote Docker host on this machine, for integration and end-to-end
 * tests: a network namespace reached over a veth pair, with its own dockerd
 * (and containerd) and an OpenSSH server inside. A port published there is
 * reachable inside the namespace only, as on a real remote host.
 *
 * Every test bed records its names and pids in a registry so that teardown
 * (stop(), process exit, signals, or a later run's cleanupStaleTestbeds())
 * removes exactly what it created and nothing else.
 *
 * @example
 * ```ts
 * const tb = await startTestbed();
 * try {
 *   await tb.docker(["run", "-d", "-p", "8080:80", tb.image]);
 *   const r = await tb.inNetns(["curl", "-s", "http://127.0.0.1:8080/"]);
 * } finally {
 *   await tb.stop();
 * }
 * ```
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { checkAvailability } from "./_availability.ts";
import { createSecondBridge, type DockerdFlags, type DockerPaths, dockerPaths, iptablesUsable, SECOND_BRIDGE, startContainerd, startDockerd as startDockerdProcess, stopDockerdProcess, writeDockerConfig } from "./_docker.ts";
import { type ExecResult, run } from "./_exec.ts";
import { buildRootfsTar, importImage, TESTBED_IMAGE, TESTBED_INDEX_HTML } from "./_image.ts";
import { addressesInUse, createNetwork, type CutKind, netnsInode, netnsPath, pickSubnet, setLink } from "./_network.ts";
import { descendantsOf, isAlive, isOurs, processesInNetnsRunning, startTimeOf, terminate } from "./_procs.ts";
import { claimedSubnets, claimSubnet, forgetRecord, listRecords, registryDir, saveRecord, type TestbedRecord, testbedBaseDir } from "./_registry.ts";
import { acceptedCount, generateKeys, preparePrivateRun, type SshPaths, sshPaths, startSshd, writeClientFiles, writeHeavyShell, writeSshdConfig } from "./_sshd.ts";
import { leftoversOf, teardownSync } from "./_teardown.ts";

export type { ExecResult } from "./_exec.ts";
export type { CutKind } from "./_network.ts";
export { TESTBED_IMAGE, TESTBED_INDEX_HTML } from "./_image.ts";

const log = getLogger(["rdhpf", "testbed"]);

/** sshd port inside the namespace. */
const SSH_PORT = 22;

/** How long the phases of startTestbed() took, in milliseconds. */
export interface TestbedTimings {
  startMs: number;
  networkMs: number;
  dockerdReadyMs: number;
  imageImportMs: number;
  sshdReadyMs: number;
}

/** A running test bed. */
export interface Testbed {
  /** Unique per run, prefixed "rdhpf-" (also the netns name and the ssh alias). */
  name: string;
  netns: string;
  /** Address of the namespace end of the veth (where sshd listens). */
  remoteAddress: string;
  /** Address of this machine's end of the veth. */
  localAddress: string;
  sshPort: number;
  /** Client config for `ssh -F`; its only Host is {@link alias}. */
  sshConfigFile: string;
  alias: string;
  /** "ssh://root@<remoteAddress>:<sshPort>" */
  target: string;
  identityFile: string;
  /** Holds the real host key of the test bed's sshd. */
  knownHostsFile: string;
  /** Unix socket of the namespace's dockerd (same filesystem as this machine). */
  dockerSocket: string;
  /**
   * Socket of the second dockerd (StartTestbedOptions.secondDockerd), which
   * the remote's SSH sessions see as /var/run/docker.sock; null without one.
   */
  secondDockerSocket: string | null;
  /** Image present in the test bed's dockerd; default command serves {@link TESTBED_INDEX_HTML} on port 80. */
  image: string;
  /** Temp dir holding all files of this test bed. */
  dir: string;
  /** How long start-up took. */
  timings: TestbedTimings;
  /** Extra start-up time of each remote command's shell (StartTestbedOptions.heavyShellMs); 0 when not made heavy. */
  heavyShellMs: number;
  /** docker CLI against the namespace's daemon; never throws on non-zero exit. */
  docker(args: string[]): Promise<ExecResult>;
  /** docker CLI against the second dockerd (throws without one); never throws on non-zero exit. */
  secondDocker(args: string[]): Promise<ExecResult>;
  /** Runs argv inside the namespace (e.g. curl to 127.0.0.1:P there). */
  inNetns(argv: string[]): Promise<ExecResult>;
  /** `ssh -F sshConfigFile alias ...args` from this machine (one new SSH connection per call). */
  ssh(args: string[]): Promise<ExecResult>;
  /** Number of "Accepted publickey" lines in the sshd log: one per SSH connection ever made. */
  acceptedConnections(): number;
  sshdLog(): string;
  /** Current pids of the test bed's daemons (undefined when stopped). */
  pids(): { containerd?: number; dockerd?: number; sshd?: number };
  /**
   * Restarts the sshd listener. Established connections survive (like
   * `systemctl restart ssh`) unless dropConnections; extraConfig replaces
   * the extra sshd_config lines given so far.
   */
  restartSshd(opts?: { dropConnections?: boolean; extraConfig?: string[] }): Promise<void>;
  /** Stops dockerd (its containers stop with it; restart policies apply at the next start). */
  stopDockerd(): Promise<void>;
  /** Starts dockerd and waits until /_ping answers. */
  startDockerd(): Promise<void>;
  restartDockerd(): Promise<void>;
  /** Cuts the network between this machine and the test bed (see CutKind; default "blackhole") or restores it. */
  setLinkUp(up: boolean, how?: CutKind): Promise<void>;
  /** What still exists of this test bed: empty after stop(). */
  leftovers(): string[];
  /** Removes everything: containers, dockerd, containerd, sshd and its children, netns, veth, mounts, temp dir. Idempotent; throws if something could not be removed. */
  stop(): Promise<void>;
}

/** Options of {@link startTestbed}. */
export interface StartTestbedOptions {
  /** Extra sshd_config lines, e.g. ["AllowStreamLocalForwarding no"]; they take precedence over the defaults. */
  sshdExtraConfig?: string[];
  /** false: dockerd without docker-proxy processes (see DockerdFlags); default true, as Docker ships. */
  userlandProxy?: boolean;
  /**
   * A second dockerd (own containerd, data, bridge) that the remote's SSH
   * sessions see at the default /var/run/docker.sock, while their
   * DOCKER_HOST still names the first: a rootful daemon next to the user's.
   * sshd then runs in a private mount namespace with a test bed directory
   * mounted over /run; this machine's /run is never touched.
   */
  secondDockerd?: boolean;
  /**
   * Makes every remote command's shell start-up take this much longer (a
   * ForceCommand script in the test bed's dir sleeps, then runs the
   * command), as on real hosts whose shell rc runs conda, pyenv or nvm
   * init. Default 0.
   */
  heavyShellMs?: number;
}

/**
 * Whether a test bed can be built here: root + the Debian packages. In CI
 * (env CI=true) tests must FAIL, not skip, when unavailable; outside CI as
 * non-root they may skip with a loud message.
 */
export function testbedAvailability(): { available: boolean; reason: string } {
  return checkAvailability();
}

/**
 * The node:test `skip` option for a suite that needs a test bed: `false` when
 * one can be built or when running in CI (CI=true), where startTestbed() then
 * fails the suite with the reason instead of skipping silently; otherwise the
 * reason, announced loudly on stderr.
 */
export function testbedSkipReason(suite: string): string | false {
  const { available, reason } = testbedAvailability();
  if (available || process.env.CI === "true") return false;
  process.stderr.write(`\n*** SKIPPING ${suite}: test bed unavailable: ${reason} (with CI=true this is a failure) ***\n\n`);
  return `test bed unavailable: ${reason}`;
}

/** Test beds of this process that still need teardown if the process ends. */
const live = new Set<TestbedRecord>();
let handlersInstalled = false;
let staleChecked = false;

function teardownAllSync(why: string): void {
  for (const rec of [...live]) {
    live.delete(rec);
    const left = teardownSync(rec);
    const msg = `rdhpf test bed ${rec.name} torn down on ${why}` + (left.length > 0 ? `; LEFT BEHIND: ${left.join("; ")}` : "");
    process.stderr.write(msg + "\n");
  }
}

const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => teardownAllSync("process exit"));
  for (const [sig, num] of Object.entries(SIGNAL_NUMBERS)) {
    process.on(sig, () => {
      // Another handler owns this signal (e.g. a script that stops gracefully):
      // leave the exit to it; the 'exit' handler above still tears down.
      if (process.listenerCount(sig) > 1) return;
      teardownAllSync(sig);
      process.exit(128 + num);
    });
  }
}

/** Removes leftovers of earlier crashed runs that this machine's runs recorded (by recorded names/pids only, never by process name). */
export async function cleanupStaleTestbeds(): Promise<void> {
  staleChecked = true;
  for (const rec of listRecords()) {
    const ownerAlive = isAlive(rec.ownerPid) && startTimeOf(rec.ownerPid) === rec.ownerStartTime;
    if (ownerAlive) continue; // a live run, possibly this one
    log.info("Removing stale test bed of a finished run", { name: rec.name, ownerPid: rec.ownerPid });
    const left = teardownSync(rec);
    if (left.length > 0) process.stderr.write(`rdhpf test bed ${rec.name}: could not remove ${left.join("; ")}\n`);
    else process.stderr.write(`rdhpf test bed ${rec.name}: removed leftovers of an earlier run (pid ${rec.ownerPid})\n`);
  }
  // Claims whose record is gone (a crash between the two deletions); records are always written before claims.
  const names = new Set(listRecords().map((r) => r.name));
  let claims: string[] = [];
  try {
    claims = readdirSync(registryDir()).filter((n) => n.startsWith("subnet-"));
  } catch {
    // no registry yet
  }
  for (const c of claims) {
    const owner = readFileSync(join(registryDir(), c), "utf8").trim();
    if (!names.has(owner)) forgetRecord({ name: owner, subnet: c.slice("subnet-".length) });
  }
}

function uniqueName(): string {
  for (;;) {
    const name = `rdhpf-${randomBytes(3).toString("hex")}`;
    if (!existsSync(netnsPath(name)) && !existsSync(join(testbedBaseDir(), name)) && !listRecords().some((r) => r.name === name)) return name;
  }
}

/** Brings up a new test bed; on failure removes whatever it had created and rethrows. */
export async function startTestbed(opts: StartTestbedOptions = {}): Promise<Testbed> {
  const avail = testbedAvailability();
  if (!avail.available) throw new Error(`test bed unavailable: ${avail.reason}`);
  if (!staleChecked) await cleanupStaleTestbeds();
  const t0 = performance.now();
  const name = uniqueName();
  const dir = join(testbedBaseDir(), name);
  mkdirSync(dir, { mode: 0o700 });
  const dp = dockerPaths(dir);
  const sp = sshPaths(dir);
  mkdirSync(sp.remoteHome, { mode: 0o700 });
  const rec: TestbedRecord = {
    name,
    dir,
    netns: name,
    // veth names are limited to 15 characters: "rdhpf-xxxxxx-h" is 14.
    hostVeth: `${name}-h`,
    nsVeth: `${name}-n`,
    subnet: "",
    localAddress: "",
    remoteAddress: "",
    dataRoot: dp.dataRoot,
    containerdSocket: dp.containerdSocket,
    dockerSocket: dp.dockerSocket,
    ownerPid: process.pid,
    ownerStartTime: startTimeOf(process.pid),
    pids: {},
  };
  const privateRun = opts.secondDockerd ? join(dir, "run") : null;
  const dp2: DockerPaths | null = privateRun ? { ...dockerPaths(join(dir, "d2")), dockerSocket: join(privateRun, "docker.sock") } : null;
  if (dp2) rec.second = { dir: dp2.dir, dataRoot: dp2.dataRoot, containerdSocket: dp2.containerdSocket, dockerSocket: dp2.dockerSocket, pids: {} };
  // Recorded before anything is created, so a crash at any later point leaves a record to clean up by.
  saveRecord(rec);
  live.add(rec);
  installHandlers();
  try {
    const inUse = await addressesInUse();
    const subnet = pickSubnet(inUse, claimedSubnets()).find((s) => claimSubnet(s.subnet, name));
    if (!subnet) throw new Error("no free /30 left in 10.200.0.0/16 for a test bed");
    Object.assign(rec, subnet);
    saveRecord(rec);
    await createNetwork({ netns: rec.netns, hostVeth: rec.hostVeth, nsVeth: rec.nsVeth, ...subnet });
    const networkMs = performance.now() - t0;
    writeDockerConfig(dp);
    if (privateRun) preparePrivateRun(privateRun);
    const docker = (args: string[]) => dockerCli(dp.dockerSocket, dp.cliConfigDir, args);
    const extra = opts.sshdExtraConfig ?? [];
    const heavyShellMs = opts.heavyShellMs ?? 0;
    const dockerSide = (async () => {
      const [iptables, tarFile] = await Promise.all([iptablesUsable(rec.netns), buildRootfsTar(dir)]);
      rec.pids.containerd = await startContainerd(rec.netns, dp);
      saveRecord(rec);
      rec.pids.dockerd = await startDockerdProcess(rec.netns, dp, { iptables, userlandProxy: opts.userlandProxy });
      saveRecord(rec);
      const dockerdReadyMs = performance.now() - t0;
      const ti = performance.now();
      await importImage(docker, tarFile);
      if (dp2 && rec.second) {
        // iptables stays with the first daemon (two would rewrite the same chains); the userland proxy publishes.
        mkdirSync(dp2.dir, { mode: 0o700 });
        writeDockerConfig(dp2);
        await createSecondBridge(rec.netns);
        rec.second.pids.containerd = await startContainerd(rec.netns, dp2);
        saveRecord(rec);
        rec.second.pids.dockerd = await startDockerdProcess(rec.netns, dp2, { iptables: false, bridge: SECOND_BRIDGE.name });
        saveRecord(rec);
        await importImage((args) => dockerCli(dp2.dockerSocket, dp2.cliConfigDir, args), tarFile);
      }
      return { iptables, dockerdReadyMs, imageImportMs: performance.now() - ti };
    })();
    const sshSide = (async () => {
      await generateKeys(sp, name);
      if (heavyShellMs > 0) writeHeavyShell(sp, heavyShellMs);
      await writeSshdConfig(sp, { listenAddress: subnet.remoteAddress, port: SSH_PORT, dockerSocket: dp.dockerSocket, extraConfig: extra, forceCommand: forceCommandOf(sp, heavyShellMs) });
      writeClientFiles(sp, name, subnet.remoteAddress, SSH_PORT);
      rec.pids.sshd = await startSshd(rec.netns, sp, { privateRun: privateRun ? { runDir: privateRun, testbedPrefix: join(testbedBaseDir(), "rdhpf-") } : undefined });
      saveRecord(rec);
      return performance.now() - t0;
    })();
    // Settle both before deciding, so a failure on one side never races teardown with the other still starting.
    const [d, s] = await Promise.allSettled([dockerSide, sshSide]);
    if (d.status === "rejected") throw d.reason;
    if (s.status === "rejected") throw s.reason;
    const timings: TestbedTimings = {
      startMs: performance.now() - t0,
      networkMs,
      dockerdReadyMs: d.value.dockerdReadyMs,
      imageImportMs: d.value.imageImportMs,
      sshdReadyMs: s.value,
    };
    log.info("Test bed up", { name, remoteAddress: rec.remoteAddress, ...timings });
    return new RunningTestbed(rec, sp, dp, dp2, extra, { iptables: d.value.iptables, userlandProxy: opts.userlandProxy }, timings, heavyShellMs);
  } catch (err) {
    live.delete(rec);
    const left = teardownSync(rec);
    const suffix = left.length > 0 ? ` (and teardown LEFT BEHIND: ${left.join("; ")})` : "";
    throw new Error(`test bed ${name} failed to start: ${err instanceof Error ? err.message : String(err)}${suffix}`, { cause: err });
  }
}

/** ForceCommand of the test bed's sshd: the heavy shell script, when the shell is made heavy. */
function forceCommandOf(sp: SshPaths, heavyShellMs: number): string | null {
  return heavyShellMs > 0 ? sp.heavyShellScript : null;
}

/** A container start that failed inside runc, not in anything the test asked for. */
export const RUNC_START_RACE = /OCI runtime (create|start) failed: runc (create|start) failed: unable to start container process/;

function dockerCli(socket: string, cliConfigDir: string, args: string[]): Promise<ExecResult> {
  return run(["docker", ...args], {
    env: { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: cliConfigDir, DOCKER_CONTEXT: undefined, DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined },
    timeoutMs: 120_000,
  });
}

class RunningTestbed implements Testbed {
  readonly name: string;
  readonly netns: string;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly sshPort = SSH_PORT;
  readonly sshConfigFile: string;
  readonly alias: string;
  readonly target: string;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  readonly dockerSocket: string;
  readonly secondDockerSocket: string | null;
  readonly image = TESTBED_IMAGE;
  readonly dir: string;
  #stopped = false;

  constructor(
    private readonly rec: TestbedRecord,
    private readonly sp: SshPaths,
    private readonly dp: DockerPaths,
    private readonly dp2: DockerPaths | null,
    private sshdExtra: string[],
    private readonly dockerdFlags: DockerdFlags,
    readonly timings: TestbedTimings,
    readonly heavyShellMs: number,
  ) {
    this.name = rec.name;
    this.netns = rec.netns;
    this.remoteAddress = rec.remoteAddress;
    this.localAddress = rec.localAddress;
    this.sshConfigFile = sp.clientConfig;
    this.alias = rec.name;
    this.target = `ssh://root@${rec.remoteAddress}:${SSH_PORT}`;
    this.identityFile = sp.clientKey;
    this.knownHostsFile = sp.knownHosts;
    this.dockerSocket = dp.dockerSocket;
    this.secondDockerSocket = dp2?.dockerSocket ?? null;
    this.dir = rec.dir;
  }

  async docker(args: string[]): Promise<ExecResult> {
    const r = await dockerCli(this.dp.dockerSocket, this.dp.cliConfigDir, args);
    if (args[0] !== "run" || r.code === 0 || !RUNC_START_RACE.test(r.stderr)) return r;
    // runc sometimes fails to start a container on a busy machine (seen: "writing syncT \"procResume\":
    // write init-p: broken pipe"). That is the test host's runtime, not what the tests examine: remove the
    // container it created (by name, when given) and start it once more.
    const at = args.indexOf("--name");
    if (at > 0 && args[at + 1]) await dockerCli(this.dp.dockerSocket, this.dp.cliConfigDir, ["rm", "-f", args[at + 1]!]);
    log.warn("docker run failed in the container runtime; retrying once", { stderr: r.stderr.trim().slice(0, 300) });
    return dockerCli(this.dp.dockerSocket, this.dp.cliConfigDir, args);
  }

  secondDocker(args: string[]): Promise<ExecResult> {
    if (!this.dp2) throw new Error(`test bed ${this.name} has no second dockerd: start it with { secondDockerd: true }`);
    return dockerCli(this.dp2.dockerSocket, this.dp2.cliConfigDir, args);
  }

  inNetns(argv: string[]): Promise<ExecResult> {
    return run(["nsenter", `--net=${netnsPath(this.netns)}`, "--", ...argv]);
  }

  ssh(args: string[]): Promise<ExecResult> {
    return run(["ssh", "-F", this.sshConfigFile, this.alias, ...args]);
  }

  acceptedConnections(): number {
    return acceptedCount(this.sp.sshdLog);
  }

  sshdLog(): string {
    try {
      return readFileSync(this.sp.sshdLog, "utf8");
    } catch {
      return "";
    }
  }

  pids(): { containerd?: number; dockerd?: number; sshd?: number } {
    return { ...this.rec.pids };
  }

  #assertRunning(what: string): void {
    if (this.#stopped) throw new Error(`test bed ${this.name}: ${what} after stop()`);
  }

  async restartSshd(opts: { dropConnections?: boolean; extraConfig?: string[] } = {}): Promise<void> {
    this.#assertRunning("restartSshd");
    const pid = this.rec.pids.sshd;
    if (isOurs(pid, this.dir)) await terminate([pid], 5_000);
    if (opts.dropConnections) {
      // Every sshd in our namespace is one of ours: connection processes of this listener and of earlier ones
      // (those were reparented when their listener ended), plus what runs in their sessions.
      const inode = netnsInode(this.netns);
      const sshds = inode === null ? [] : processesInNetnsRunning(inode, "/usr/sbin/sshd");
      const connections = [...sshds, ...sshds.flatMap(descendantsOf)];
      if (connections.length > 0) await terminate([...new Set(connections)], 2_000, "SIGKILL");
    }
    this.rec.pids.sshd = undefined;
    saveRecord(this.rec);
    if (opts.extraConfig) this.sshdExtra = opts.extraConfig;
    await writeSshdConfig(this.sp, { listenAddress: this.remoteAddress, port: this.sshPort, dockerSocket: this.dockerSocket, extraConfig: this.sshdExtra, forceCommand: forceCommandOf(this.sp, this.heavyShellMs) });
    this.rec.pids.sshd = await startSshd(this.netns, this.sp, { privateRun: this.rec.second ? { runDir: join(this.dir, "run"), testbedPrefix: join(testbedBaseDir(), "rdhpf-") } : undefined });
    saveRecord(this.rec);
  }

  async stopDockerd(): Promise<void> {
    this.#assertRunning("stopDockerd");
    await stopDockerdProcess(this.rec.pids.dockerd, this.dp);
    this.rec.pids.dockerd = undefined;
    saveRecord(this.rec);
  }

  async startDockerd(): Promise<void> {
    this.#assertRunning("startDockerd");
    if (isOurs(this.rec.pids.dockerd, this.dir)) return;
    this.rec.pids.dockerd = await startDockerdProcess(this.netns, this.dp, this.dockerdFlags);
    saveRecord(this.rec);
  }

  async restartDockerd(): Promise<void> {
    await this.stopDockerd();
    await this.startDockerd();
  }

  async setLinkUp(up: boolean, how?: CutKind): Promise<void> {
    this.#assertRunning("setLinkUp");
    await setLink(this.rec.netns, this.rec.nsVeth, this.rec.remoteAddress, up, how);
  }

  leftovers(): string[] {
    return leftoversOf(this.rec);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    live.delete(this.rec);
    const t0 = performance.now();
    // The slow part (containers, dockerd shutdown) runs async; the rest is the same synchronous teardown the exit handler uses.
    const daemons = [{ dp: this.dp, pid: this.rec.pids.dockerd }, ...(this.dp2 ? [{ dp: this.dp2, pid: this.rec.second?.pids.dockerd }] : [])];
    for (const { dp, pid } of daemons) {
      if (!isOurs(pid, dp.dir)) continue;
      const cli = (args: string[]) => dockerCli(dp.dockerSocket, dp.cliConfigDir, args);
      const ps = await cli(["ps", "-aq"]);
      const ids = ps.stdout.split("\n").filter(Boolean);
      if (ps.code === 0 && ids.length > 0) await cli(["rm", "-f", "-v", ...ids]);
      await stopDockerdProcess(pid, dp).catch(() => {});
    }
    const left = teardownSync(this.rec);
    log.info("Test bed stopped", { name: this.name, stopMs: performance.now() - t0 });
    if (left.length > 0) throw new Error(`test bed ${this.name}: teardown left behind ${left.join("; ")}`);
  }
}
