/**
 * "The status is the truth": compares what `rdhpf status --format json`
 * says with what really is, on both ends: the TCP listeners of this machine
 * (`ss -ltnpH`, with their owning process) and the running containers of the
 * remote Docker host (`docker ps` + `docker inspect` on the test bed).
 *
 * This machine's loopback is shared with tests running in parallel, so only
 * listeners of the daemon's SSH master and listeners on the caller's own
 * port range are judged; the remote host belongs to the test bed alone.
 */
import { execFile } from "node:child_process";
import type { StatusDocument } from "../../src/status/schema.ts";
import { InstanceReportSchema } from "../../src/status/view.ts";
import type { Testbed } from "../testbed/mod.ts";
import { type Daemon, rdhpf } from "./_harness.ts";

/** One local TCP listener and the process that holds it (null when ss does not say). */
export interface Listener {
  address: string;
  port: number;
  pid: number | null;
}

/** A published binding of a running remote container. */
export interface RemoteBinding {
  hostIp: string;
  hostPort: number;
  protocol: string;
}

/** A running remote container as Docker reports it. */
export interface RemoteContainer {
  id: string;
  name: string;
  bindings: RemoteBinding[];
}

/** Options of {@link assertStatusIsTruth}. */
export interface TruthOptions {
  /** How long the status may take to settle to the truth (the scenario's bound). */
  timeoutMs?: number;
  /**
   * Local ports this test owns, inclusive: every listener there must be an
   * active forward of the daemon, or belong to the test process itself (a
   * port the test holds on purpose).
   */
  ports?: [number, number];
}

/** Local TCP listeners with their owners, from `ss -ltnpH` (root sees every owner). */
export function listenersWithOwners(): Promise<Listener[]> {
  return new Promise((resolve, reject) => {
    execFile("ss", ["-ltnpH"], (err, stdout) => {
      if (err) return reject(err);
      const out: Listener[] = [];
      for (const line of String(stdout).split("\n")) {
        const fields = line.trim().split(/\s+/);
        const local = fields[3];
        if (!local) continue;
        const colon = local.lastIndexOf(":");
        const address = local.slice(0, colon).replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
        const pid = /pid=(\d+)/.exec(line)?.[1];
        out.push({ address, port: Number(local.slice(colon + 1)), pid: pid ? Number(pid) : null });
      }
      resolve(out);
    });
  });
}

/** The running containers of the test bed with their published bindings; null when Docker changed under us mid-read. */
export async function remoteContainers(tb: Testbed): Promise<RemoteContainer[] | null> {
  const ps = await tb.docker(["ps", "-q", "--no-trunc"]);
  if (ps.code !== 0) throw new Error(`docker ps failed: ${ps.stderr}`);
  const ids = ps.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) return [];
  const inspect = await tb.docker(["inspect", ...ids]);
  if (inspect.code !== 0) return null; // removed between ps and inspect
  const items = JSON.parse(inspect.stdout) as Array<{
    Id: string;
    Name: string;
    State: { Running: boolean };
    NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null };
  }>;
  return items.filter((c) => c.State.Running).map((c) => ({
    id: c.Id,
    name: c.Name.replace(/^\//, ""),
    bindings: Object.entries(c.NetworkSettings.Ports ?? {}).flatMap(([key, list]) =>
      (list ?? []).map((b) => ({ hostIp: b.HostIp, hostPort: Number(b.HostPort), protocol: key.split("/")[1] ?? "tcp" }))),
  }));
}

/** Live `rdhpf status --host … --format json` of the daemon (throws when it did not answer live). */
export async function liveStatus(daemon: Daemon): Promise<StatusDocument> {
  const r = await rdhpf(["status", "--host", daemon.tb.alias, "-F", daemon.tb.sshConfigFile, "--format", "json"], { RDHPF_STATE_DIR: daemon.stateDir });
  if (r.stdout.trim() === "") throw new Error(`rdhpf status printed nothing (exit ${r.code}): ${r.stderr}`);
  const report = InstanceReportSchema.parse(JSON.parse(r.stdout));
  if (!report.live) throw new Error(`rdhpf status is not live (stale ${report.stale_age_s} s): ${r.stderr}`);
  return report;
}

const remoteAddressOf = (hostIp: string) => (hostIp === "" || hostIp === "0.0.0.0" || hostIp === "::" ? "127.0.0.1" : hostIp);
const key = (address: string, port: number) => `${address}:${port}`;

/** Every way the status differs from the truth; empty when it is the truth. */
export function truthMismatches(doc: StatusDocument, containers: RemoteContainer[], listeners: Listener[], opts: TruthOptions = {}, selfPid = process.pid): string[] {
  const problems: string[] = [];
  if (!doc.ssh.connected || doc.ssh.master_pid === null) problems.push(`ssh not connected (state ${doc.state})`);
  if (!doc.docker.connected) problems.push(`docker not connected (state ${doc.state})`);

  // containers[] is `docker ps`.
  const seen = doc.containers.map((c) => `${c.id} ${c.name} [${c.published_tcp_ports.join(",")}]`).sort();
  const truth = containers.map((c) => {
    const tcp = [...new Set(c.bindings.filter((b) => b.protocol === "tcp").map((b) => b.hostPort))].sort((a, b) => a - b);
    return `${c.id} ${c.name} [${tcp.join(",")}]`;
  }).sort();
  if (JSON.stringify(seen) !== JSON.stringify(truth)) problems.push(`containers[] ${JSON.stringify(seen)} but docker ps ${JSON.stringify(truth)}`);

  // Every published TCP port of a running container is forwarded, or says why not.
  const byId = new Map(containers.map((c) => [c.id, c]));
  for (const c of containers) {
    for (const b of c.bindings.filter((x) => x.protocol === "tcp")) {
      const rows = doc.forwards.filter((f) => f.container_id === c.id && f.remote_port === b.hostPort && f.protocol === "tcp");
      if (rows.length === 0) problems.push(`${c.name} publishes ${b.hostIp}:${b.hostPort}/tcp but status has no forward for it`);
      for (const f of rows) {
        if (f.state === "active") continue;
        if (!["conflict", "ignored"].includes(f.state) || !f.reason) {
          problems.push(`${c.name} ${b.hostPort}/tcp is ${f.state}${f.reason ? ` (${f.reason})` : " without a reason"}`);
        }
      }
    }
  }

  // No forward of a container that is not running; active forwards point at a real binding.
  for (const f of doc.forwards) {
    const c = byId.get(f.container_id);
    if (!c) {
      problems.push(`forward ${f.local_port} (${f.state}) of ${f.container_name} ${f.container_id.slice(0, 12)}, which is not running`);
      continue;
    }
    if (f.state !== "active") continue;
    const bindings = c.bindings.filter((b) => b.protocol === "tcp" && b.hostPort === f.remote_port);
    if (bindings.length === 0) problems.push(`active forward ${f.local_port} → ${f.remote_port} of ${c.name}: no such published port`);
    else if (!bindings.some((b) => remoteAddressOf(b.hostIp) === f.remote_address)) {
      problems.push(`active forward ${f.local_port} connects to ${f.remote_address}, Docker bound ${bindings.map((b) => b.hostIp).join(",")}`);
    }
  }

  // Local listeners: the master's are exactly the active forwards.
  const master = doc.ssh.master_pid;
  const wanted = new Set(doc.forwards.filter((f) => f.state === "active").flatMap((f) => f.local_addresses.map((a) => key(a, f.local_port))));
  const held = new Set(listeners.filter((l) => l.pid === master).map((l) => key(l.address, l.port)));
  for (const w of wanted) if (!held.has(w)) problems.push(`active forward ${w} has no listener of the master (PID ${master})`);
  for (const h of held) if (!wanted.has(h)) problems.push(`the master (PID ${master}) listens on ${h}, which status does not list as active`);
  if (opts.ports) {
    const [lo, hi] = opts.ports;
    for (const l of listeners) {
      if (l.port < lo || l.port > hi || l.pid === master || l.pid === selfPid) continue;
      problems.push(`${key(l.address, l.port)} is held by PID ${l.pid ?? "?"}, neither the master nor the test`);
    }
  }

  const active = doc.forwards.filter((f) => f.state === "active").length;
  if (doc.forwards_added_total - doc.forwards_removed_total !== active) {
    problems.push(`forwards_added_total ${doc.forwards_added_total} - forwards_removed_total ${doc.forwards_removed_total} != ${active} active`);
  }
  return problems;
}

/**
 * Waits until `rdhpf status` (live) equals the truth on both ends, at most
 * `timeoutMs`; throws listing every difference still seen at the deadline.
 * Returns the status document that matched.
 */
export async function assertStatusIsTruth(daemon: Daemon, tb: Testbed, opts: TruthOptions = {}): Promise<StatusDocument> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  let last: string[] = [];
  for (;;) {
    try {
      const doc = await liveStatus(daemon);
      const containers = await remoteContainers(tb);
      if (containers !== null) {
        // The listeners are read after the status: a forward added in between shows as an extra listener and is retried.
        last = truthMismatches(doc, containers, await listenersWithOwners(), opts);
        if (last.length === 0) return doc;
      } else last = ["docker changed during the read"];
    } catch (err) {
      last = [(err as Error).message];
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`rdhpf status is not the truth after ${opts.timeoutMs ?? 5000} ms:\n  ${last.join("\n  ")}`);
}
