/**
 * The on-disk registry of live test beds: one JSON record per test bed plus
 * one claim file per /30, so that concurrent runs never pick the same subnet
 * and a later run can remove what a crashed run left behind (by recorded
 * names and pids only).
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Everything needed to tear a test bed down without its owning process. */
export interface TestbedRecord {
  name: string;
  dir: string;
  netns: string;
  hostVeth: string;
  nsVeth: string;
  /** Network address of the /30, e.g. "10.200.37.0". */
  subnet: string;
  localAddress: string;
  remoteAddress: string;
  dataRoot: string;
  containerdSocket: string;
  dockerSocket: string;
  ownerPid: number;
  /** /proc start time of the owner, so a reused pid is not mistaken for it. */
  ownerStartTime: string;
  pids: { containerd?: number; dockerd?: number; sshd?: number };
  /** The optional second dockerd (see StartTestbedOptions.secondDockerd). */
  second?: SecondDaemonRecord;
}

/** A second containerd + dockerd in the same namespace, with its own files under `dir`. */
export interface SecondDaemonRecord {
  dir: string;
  dataRoot: string;
  containerdSocket: string;
  dockerSocket: string;
  pids: { containerd?: number; dockerd?: number };
}

/**
 * Parent of every test bed's directory and of the registry. Unix socket paths
 * inside a test bed reach 33 characters beyond its directory, and Linux
 * allows 107: a long TMPDIR falls back to /tmp.
 */
export function testbedBaseDir(): string {
  const t = tmpdir();
  return t.length <= 40 ? t : "/tmp";
}

/** Directory of the registry (shared by all runs on this machine). */
export function registryDir(): string {
  return join(testbedBaseDir(), "rdhpf-testbeds");
}

function recordPath(name: string): string {
  return join(registryDir(), `${name}.json`);
}

function claimPath(subnet: string): string {
  return join(registryDir(), `subnet-${subnet}`);
}

function ensureRegistry(): void {
  mkdirSync(registryDir(), { recursive: true, mode: 0o700 });
}

/** Writes (or rewrites) a record atomically. */
export function saveRecord(rec: TestbedRecord): void {
  ensureRegistry();
  const tmp = `${recordPath(rec.name)}.tmp`;
  writeFileSync(tmp, JSON.stringify(rec, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, recordPath(rec.name));
}

/** All readable records (unreadable ones are skipped, not fatal). */
export function listRecords(): TestbedRecord[] {
  let names: string[];
  try {
    names = readdirSync(registryDir());
  } catch {
    return [];
  }
  const out: TestbedRecord[] = [];
  for (const n of names) {
    if (!n.endsWith(".json")) continue;
    try {
      out.push(JSON.parse(readFileSync(join(registryDir(), n), "utf8")) as TestbedRecord);
    } catch {
      // a half-written record of a crashed run: its claim file still protects the subnet
    }
  }
  return out;
}

/** Claims a subnet exclusively; false if another test bed holds it. */
export function claimSubnet(subnet: string, name: string): boolean {
  ensureRegistry();
  try {
    writeFileSync(claimPath(subnet), name + "\n", { flag: "wx", mode: 0o600 });
    return true;
  } catch {
    return false;
  }
}

/** Subnets claimed by any test bed on this machine. */
export function claimedSubnets(): Set<string> {
  try {
    return new Set(readdirSync(registryDir()).filter((n) => n.startsWith("subnet-")).map((n) => n.slice(7)));
  } catch {
    return new Set();
  }
}

/** Removes the record and the subnet claim of a test bed. */
export function forgetRecord(rec: Pick<TestbedRecord, "name" | "subnet">): void {
  rmSync(recordPath(rec.name), { force: true });
  if (rec.subnet) {
    try {
      if (readFileSync(claimPath(rec.subnet), "utf8").trim() === rec.name) rmSync(claimPath(rec.subnet), { force: true });
    } catch {
      // no claim
    }
  }
}
