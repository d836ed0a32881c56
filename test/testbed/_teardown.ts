/**
 * Removing a test bed completely, synchronously, from its record alone: used
 * by stop(), by the process 'exit' and signal handlers, and for leftovers of
 * crashed runs. Every step tolerates "already gone".
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runSync, sleepSync } from "./_exec.ts";
import { deleteNetworkSync, linkExists, netnsInode, netnsPath } from "./_network.ts";
import { descendantsOf, isAlive, isOurs, processesOf, terminateSync } from "./_procs.ts";
import { forgetRecord, type TestbedRecord } from "./_registry.ts";

/** containerd 1.6 puts shim sockets at a fixed root, outside our dirs (runtime/v2/shim/util_unix.go). */
const SHIM_SOCKET_DIR = "/run/containerd/s";

/** Mount points at or under dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  let text = "";
  try {
    text = readFileSync("/proc/mounts", "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .map((l) => (l.split(" ")[1] ?? "").replace(/\\040/g, " "))
    .filter((m) => m === dir || m.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

/** The Docker daemons of a test bed: its own and, when started, the second one. */
function daemonsOf(rec: TestbedRecord): Array<{ marker: string; dataRoot: string; containerdSocket: string; dockerSocket: string; cliConfigDir: string; dockerd?: number; containerd?: number }> {
  const out = [{ marker: rec.dir, dataRoot: rec.dataRoot, containerdSocket: rec.containerdSocket, dockerSocket: rec.dockerSocket, cliConfigDir: join(rec.dir, "cli"), ...rec.pids }];
  const s = rec.second;
  if (s) out.push({ marker: s.dir, dataRoot: s.dataRoot, containerdSocket: s.containerdSocket, dockerSocket: s.dockerSocket, cliConfigDir: join(s.dir, "cli"), ...s.pids });
  return out;
}

/** Container ids of every daemon of the test bed, with the containerd socket their shims hash. */
function containersOf(rec: TestbedRecord): Array<{ id: string; containerdSocket: string }> {
  return daemonsOf(rec).flatMap((d) => containerIds(d.dataRoot).map((id) => ({ id, containerdSocket: d.containerdSocket })));
}

function containerIds(dataRoot: string): string[] {
  try {
    return readdirSync(join(dataRoot, "containers")).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch {
    return [];
  }
}

/** Where containerd's runc v2 shim of one container listens (sha256 of address/namespace/id). */
export function shimSocketPath(containerdSocket: string, id: string, namespace = "moby"): string {
  return join(SHIM_SOCKET_DIR, createHash("sha256").update(join(containerdSocket, namespace, id)).digest("hex"));
}

/** cgroup v1/v2 directories runc creates per container under the "docker" parent. */
function containerCgroupDirs(id: string): string[] {
  const root = "/sys/fs/cgroup";
  const out: string[] = [];
  const candidates = [join(root, "docker", id)];
  try {
    for (const c of readdirSync(root)) candidates.push(join(root, c, "docker", id));
  } catch {
    // no cgroup fs
  }
  for (const c of candidates) if (existsSync(c)) out.push(c);
  return out;
}


/** Kills every process of the test bed; the recorded ones first, then a sweep by directory, namespace and container. */
function killProcessesSync(rec: TestbedRecord, ids: readonly string[]): void {
  for (const d of daemonsOf(rec)) {
    const dockerd = isOurs(d.dockerd, d.marker) ? [d.dockerd] : [];
    if (dockerd.length > 0 && existsSync(d.dockerSocket)) {
      // Containers first, with SIGKILL: dockerd's own shutdown would wait for each one's stop timeout.
      const env = { DOCKER_HOST: `unix://${d.dockerSocket}`, DOCKER_CONFIG: d.cliConfigDir, DOCKER_CONTEXT: undefined };
      const ps = runSync(["docker", "ps", "-aq"], { env, timeoutMs: 10_000 });
      const running = ps.stdout.split("\n").filter(Boolean);
      if (ps.code === 0 && running.length > 0) runSync(["docker", "rm", "-f", "-v", ...running], { env, timeoutMs: 30_000 });
    }
    terminateSync(dockerd, 20_000);
    terminateSync(isOurs(d.containerd, d.marker) ? [d.containerd] : [], 10_000);
  }
  const sshd = isOurs(rec.pids.sshd, rec.dir) ? [rec.pids.sshd] : [];
  terminateSync([...sshd, ...sshd.flatMap(descendantsOf)], 3_000);
  // Whatever remains: shims, docker-proxy, old sshd connections, and container processes whose
  // shim is gone (they would outlive everything else, reparented to init).
  for (let round = 0; round < 3; round++) {
    const rest = remainingProcesses(rec, ids);
    if (rest.length === 0) break;
    terminateSync(rest, 2_000);
  }
}

function remainingProcesses(rec: TestbedRecord, ids: readonly string[]): number[] {
  return [...new Set([...processesOf(rec.dir, netnsInode(rec.netns)), ...containerProcesses(rec.dir, ids)])];
}

/**
 * Processes of our containers: in the cgroup of one of our container ids, or
 * in another mount namespace whose mounts come from our directory (the
 * overlay of our data root). Their /proc/PID/root reads "/", so that alone
 * cannot tell.
 */
function containerProcesses(dir: string, ids: readonly string[]): number[] {
  const ownMnt = safeReadlink("/proc/self/ns/mnt");
  const out: number[] = [];
  for (const n of readdirSync("/proc")) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    if (!isAlive(pid)) continue;
    try {
      const cgroup = readFileSync(`/proc/${n}/cgroup`, "utf8");
      if (ids.some((id) => cgroup.includes(`/docker/${id}`))) {
        out.push(pid);
        continue;
      }
      const mnt = safeReadlink(`/proc/${n}/ns/mnt`);
      if (mnt !== null && mnt !== ownMnt && readFileSync(`/proc/${n}/mountinfo`, "utf8").includes(dir + "/")) out.push(pid);
    } catch {
      // gone, or not readable
    }
  }
  return out;
}

function safeReadlink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/** What of a test bed still exists; empty after a complete teardown. */
export function leftoversOf(rec: TestbedRecord, containers: ReadonlyArray<{ id: string; containerdSocket: string }> = containersOf(rec)): string[] {
  const ids = containers.map((c) => c.id);
  const out: string[] = [];
  const procs = remainingProcesses(rec, ids);
  if (procs.length > 0) out.push(`processes ${procs.join(", ")}`);
  if (existsSync(netnsPath(rec.netns))) out.push(`network namespace ${rec.netns}`);
  if (linkExists(rec.hostVeth)) out.push(`veth ${rec.hostVeth}`);
  const mounts = mountsUnder(rec.dir).concat(mountsUnder(netnsPath(rec.netns)), mountsUnder(`/run/netns/${rec.netns}`));
  if (mounts.length > 0) out.push(`mounts ${mounts.join(", ")}`);
  if (existsSync(rec.dir)) out.push(`directory ${rec.dir}`);
  const cgroups = ids.flatMap(containerCgroupDirs);
  if (cgroups.length > 0) out.push(`cgroups ${cgroups.join(", ")}`);
  const sockets = containers.map((c) => shimSocketPath(c.containerdSocket, c.id)).filter((p) => existsSync(p));
  if (sockets.length > 0) out.push(`shim sockets ${sockets.join(", ")}`);
  return out;
}

/** Removes everything of a test bed and its registry entry; returns what could not be removed. */
export function teardownSync(rec: TestbedRecord): string[] {
  // Container ids come from the data roots, which are about to go: read them first.
  const containers = containersOf(rec);
  const ids = containers.map((c) => c.id);
  killProcessesSync(rec, ids);
  for (const m of mountsUnder(rec.dir)) {
    if (runSync(["umount", m]).code !== 0) runSync(["umount", "-l", m]);
  }
  for (const c of containers) rmSync(shimSocketPath(c.containerdSocket, c.id), { force: true });
  removeCgroupsSync(ids);
  deleteNetworkSync(rec.netns, rec.hostVeth, rec.remoteAddress);
  try {
    rmSync(rec.dir, { recursive: true, force: true });
  } catch {
    // reported below
  }
  // The veth peer vanishes asynchronously after its namespace is deleted; give the kernel a moment.
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline && leftoversOf(rec, containers).length > 0) sleepSync(50);
  const final = leftoversOf(rec, containers);
  if (final.length === 0) forgetRecord(rec);
  return final;
}

/** Removes the per-container cgroups runc leaves when its container was killed behind dockerd's back. */
function removeCgroupsSync(ids: readonly string[]): void {
  const deadline = Date.now() + 2_000;
  for (;;) {
    for (const cg of ids.flatMap(containerCgroupDirs)) {
      try {
        rmdirSync(cg);
      } catch {
        // still has tasks for a moment after SIGKILL; retried
      }
    }
    if (ids.flatMap(containerCgroupDirs).length === 0 || Date.now() > deadline) return;
    sleepSync(50);
  }
}
