/**
 * Whether a start takes over the SSH master a previous rdhpf left running
 * (after a hand-over on SIGUSR2, a crash or a SIGKILL), or ends it and
 * starts clean.
 *
 * Adopting keeps every listener and every TCP connection through them: the
 * master holds both, rdhpf only tells it what to add and cancel. So the
 * master is adopted only when everything about it checks out; anything
 * doubtful means today's behaviour (end it, connect anew), which costs a
 * reconnect but never leaves rdhpf believing in forwards nobody holds.
 *
 * `decideAdoption` is the rule (pure, tested as a table); `inspectPrevious`
 * gathers the facts it needs.
 *
 * @module
 */
import { lstatSync, readFileSync } from "node:fs";
import type { ActiveForward } from "../forward/mod.ts";
import type { InstancePaths } from "../paths.ts";
import { commandLine, isAlive } from "../process/mod.ts";
import { runSsh, type SshContext } from "../ssh/mod.ts";
import { StatusDocumentSchema } from "../status/mod.ts";

/** What the previous run left behind, as far as the decision needs it. */
export interface PreviousMaster {
  /** The master pid the lock names, or null when it names none. */
  masterPid: number | null;
  /** Alive and not a zombie. */
  alive: boolean;
  /** Its command line names this instance's control socket (so the pid was not reused by another process). */
  ours: boolean;
  /** The control socket file exists and is a socket. */
  socketPresent: boolean;
  /** It answered `ssh -O check` through the socket (false when not asked). */
  answersCheck: boolean;
  /** The forwards the state file records as active, or why they cannot be trusted. */
  recorded: { forwards: ActiveForward[]; masterPid: number | null } | { unreadable: string };
}

export type AdoptionDecision =
  | { action: "adopt"; masterPid: number; forwards: ActiveForward[] }
  /** `endMaster`: the pid to end first (ours, alive, but doubtful), or null. */
  | { action: "start-clean"; reason: string; endMaster: number | null };

/** The rule: adopt only a master that is alive, ours, reachable and whose forwards are known. */
export function decideAdoption(p: PreviousMaster): AdoptionDecision {
  const clean = (reason: string, end: boolean): AdoptionDecision => ({ action: "start-clean", reason, endMaster: end ? p.masterPid : null });
  if (p.masterPid === null) return clean("no SSH master left by a previous run", false);
  if (!p.alive) return clean(`the previous SSH master (pid ${p.masterPid}) is gone`, false);
  // A live pid that is not our master is someone else's process: never touch it.
  if (!p.ours) return clean(`pid ${p.masterPid} is no longer our SSH master`, false);
  if (!p.socketPresent) return clean("the previous SSH master's control socket is missing", true);
  if (!p.answersCheck) return clean("the previous SSH master does not answer `ssh -O check`", true);
  if ("unreadable" in p.recorded) return clean(`the forwards it holds are unknown: ${p.recorded.unreadable}`, true);
  if (p.recorded.masterPid !== p.masterPid) {
    return clean(`the state file names SSH master ${p.recorded.masterPid ?? "none"}, the lock ${p.masterPid}`, true);
  }
  return { action: "adopt", masterPid: p.masterPid, forwards: p.recorded.forwards };
}

/** The active forwards of a state file's text, and the master it names; `unreadable` with the reason otherwise. */
export function recordedForwards(stateText: string | null): PreviousMaster["recorded"] {
  if (stateText === null) return { unreadable: "no state file" };
  let json: unknown;
  try {
    json = JSON.parse(stateText);
  } catch {
    return { unreadable: "the state file is not JSON" };
  }
  const doc = StatusDocumentSchema.safeParse(json);
  if (!doc.success) return { unreadable: "the state file does not match the status schema" };
  const forwards: ActiveForward[] = [];
  for (const f of doc.data.forwards) {
    if (f.state !== "active") continue;
    const sinceMs = Date.parse(f.since);
    forwards.push({
      localPort: f.local_port, remoteHost: f.remote_address, remotePort: f.remote_port, bindAddresses: [...f.local_addresses],
      containerId: f.container_id, containerName: f.container_name, sinceMs: Number.isNaN(sinceMs) ? Date.now() : sinceMs, reason: f.reason,
    });
  }
  return { forwards, masterPid: doc.data.ssh.master_pid };
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Gathers the facts about the master the lock names; asks `-O check` only when the cheaper facts allow adoption. */
export async function inspectPrevious(masterPid: number | null, paths: InstancePaths, ssh: SshContext): Promise<PreviousMaster> {
  const alive = masterPid !== null && isAlive(masterPid);
  const ours = alive && (commandLine(masterPid!) ?? "").includes(paths.controlSocket);
  const socketPresent = isSocket(paths.controlSocket);
  const answersCheck = alive && ours && socketPresent && (await runSsh({ kind: "check" }, ssh, { timeoutMs: 3000 })).code === 0;
  return { masterPid, alive, ours, socketPresent, answersCheck, recorded: recordedForwards(readText(paths.stateFile)) };
}
