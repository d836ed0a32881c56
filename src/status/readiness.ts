/**
 * Decides, from a live status document and the outcomes of connection probes,
 * whether what `rdhpf wait` asked for is ready, and if not, what is missing
 * and why: the words a CI log needs when a test job times out.
 *
 * @module
 */
import { hostPort } from "../address.ts";
import { displaySafe } from "../text_safety.ts";
import { ageMs, formatAge } from "./duration.ts";
import type { ForwardStatus, StatusDocument } from "./schema.ts";

/** What `rdhpf wait` waits for. */
export interface WaitRequest {
  /** Local ports that must be forwarded and answer. */
  ports: number[];
  /** Containers (name, or ID prefix) whose every TCP port must be forwarded and answer. */
  containers: string[];
  /** Every published TCP port of the host. */
  all: boolean;
}

/** An active forward to try a connection through. */
export interface ProbeTarget {
  /** Identifies this forward instance: a re-created forward gets a new key. */
  key: string;
  address: string;
  port: number;
  /** "127.0.0.1:5432 (db)", display-safe. */
  label: string;
}

/** Result of one connection attempt through a forward. */
export type ProbeOutcome = { ok: true } | { ok: false; reason: string };

/** The verdict for one poll. */
export interface Readiness {
  ready: boolean;
  /** One line per thing still missing. */
  missing: string[];
  /** Active forwards that still need a successful probe. */
  toProbe: ProbeTarget[];
  /** Every forward that was required, for the success message. */
  satisfied: ProbeTarget[];
}

const NAME_COLUMNS = 60;
const REASON_COLUMNS = 300;
const safeName = (s: string) => displaySafe(s, NAME_COLUMNS);
const safeReason = (s: string) => displaySafe(s, REASON_COLUMNS);

/** The loopback address a client would use to reach the forward. */
function probeAddress(f: ForwardStatus): string {
  const a = f.local_addresses;
  if (a.includes("127.0.0.1")) return "127.0.0.1";
  if (a.includes("::1")) return "::1";
  const first = a[0] ?? "127.0.0.1";
  if (first === "0.0.0.0") return "127.0.0.1";
  return first === "::" ? "::1" : first;
}

/** The probe target of an active forward. */
export function probeTarget(f: ForwardStatus): ProbeTarget {
  const address = probeAddress(f);
  const where = hostPort(address, f.local_port);
  return { key: `${where}@${f.since}`, address, port: f.local_port, label: `${where} (${safeName(f.container_name)})` };
}

function matchesContainer(f: ForwardStatus, wanted: string): boolean {
  return f.container_name === wanted || (/^[0-9a-f]{4,64}$/.test(wanted) && f.container_id.startsWith(wanted));
}

const isTcp = (f: ForwardStatus) => f.protocol === "tcp";

/** Why a forward that is not active is not usable. */
function notActiveText(f: ForwardStatus): string {
  const reason = f.reason ? `: ${safeReason(f.reason)}` : "";
  if (!isTcp(f)) return `published only as ${f.protocol}, which cannot be forwarded over SSH`;
  return `${f.state}${reason}`;
}

/** Poll verdict for `request` against a live document and the probe outcomes so far. */
export function assessReadiness(doc: StatusDocument, request: WaitRequest, outcomes: ReadonlyMap<string, ProbeOutcome>, now: Date): Readiness {
  const missing: string[] = [];
  const needed = new Map<string, { target: ProbeTarget; what: string }>();
  const need = (f: ForwardStatus, what: string) => {
    const target = probeTarget(f);
    if (!needed.has(target.key)) needed.set(target.key, { target, what });
  };

  if (doc.state === "starting") missing.push("rdhpf is still starting (no container list yet)");

  for (const port of new Set(request.ports)) {
    const what = `port ${port}`;
    const here = doc.forwards.filter((f) => f.local_port === port);
    const active = here.find((f) => isTcp(f) && f.state === "active");
    if (active) need(active, `${what} (${safeName(active.container_name)})`);
    else if (here.length > 0) {
      const f = here.find(isTcp) ?? here[0]!;
      missing.push(`${what} (${safeName(f.container_name)}): ${notActiveText(f)}`);
    } else {
      const moved = doc.forwards.find((f) => f.state === "active" && movedFrom(f) === port);
      missing.push(moved
        ? `${what}: ${safeName(moved.container_name)} is forwarded on local port ${moved.local_port} instead (--on-conflict next-free: ${safeReason(moved.reason!)}); wait for --port ${moved.local_port} or --container`
        : `${what}: ${notPublishedText(doc, port, now)}`);
    }
  }

  for (const wanted of new Set(request.containers)) {
    const what = `container ${safeName(wanted)}`;
    const mine = doc.forwards.filter((f) => matchesContainer(f, wanted));
    if (mine.length === 0) {
      missing.push(`${what}: no running container of that name publishes a port (not running, unknown, or without published ports)`);
      continue;
    }
    const usable = mine.filter((f) => isTcp(f) && f.state !== "ignored");
    if (usable.length === 0) {
      missing.push(`${what}: no forwardable TCP port (${mine.map((f) => `${f.local_port}/${f.protocol} ${notActiveText(f)}`).join("; ")})`);
      continue;
    }
    for (const f of usable) {
      if (f.state === "active") need(f, `${what} port ${f.local_port}`);
      else missing.push(`${what} port ${f.local_port}: ${notActiveText(f)}`);
    }
  }

  if (request.all) {
    if (doc.state !== "connected" && doc.state !== "starting") missing.push(`rdhpf is ${doc.state}, so its list of forwards may be incomplete`);
    for (const f of doc.forwards.filter((f) => isTcp(f) && f.state !== "ignored")) {
      if (f.state === "active") need(f, `port ${f.local_port} (${safeName(f.container_name)})`);
      else missing.push(`port ${f.local_port} (${safeName(f.container_name)}): ${notActiveText(f)}`);
    }
  }

  const toProbe: ProbeTarget[] = [];
  for (const { target, what } of needed.values()) {
    const outcome = outcomes.get(target.key);
    if (outcome?.ok) continue;
    toProbe.push(target);
    missing.push(outcome
      ? `${what}: forwarded, but a connection through the tunnel failed: ${outcome.reason}`
      : `${what}: forwarded, connection through the tunnel not yet confirmed`);
  }
  return { ready: missing.length === 0, missing, toProbe, satisfied: [...needed.values()].map((n) => n.target) };
}

/** The local port an --on-conflict next-free forward wanted (its reason starts "wanted P (…); next free"), else null. */
function movedFrom(f: ForwardStatus): number | null {
  const m = /^wanted (\d+) \(.*\); next free$/s.exec(f.reason ?? "");
  return m ? Number(m[1]) : null;
}

function notPublishedText(doc: StatusDocument, port: number, now: Date): string {
  const ended = doc.history
    .filter((h) => h.local_port === port)
    .sort((a, b) => b.ended_at.localeCompare(a.ended_at))[0];
  if (!ended) return "not published by any running container";
  const age = ageMs(ended.ended_at, now);
  return `not published by any running container (the forward for ${safeName(ended.container_name)} ended ${age === null ? "recently" : `${formatAge(age)} ago`}: ${safeReason(ended.end_reason)})`;
}
