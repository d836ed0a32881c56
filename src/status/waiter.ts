/**
 * `rdhpf wait`: polls the live status (every 50 ms) and probes the forwards
 * it needs until everything asked for answers through the tunnel, or the
 * timeout passes. Makes `docker run … && rdhpf wait --port 5432 && npm test`
 * deterministic.
 *
 * @module
 */
import { formatError } from "../errors.ts";
import { displaySafe } from "../text_safety.ts";
import { DEFAULT_QUERY_TIMEOUT_MS, type InstanceSelection, listInstances, queryInstance } from "./client.ts";
import { formatAge } from "./duration.ts";
import { probeThroughTunnel } from "./probe.ts";
import { assessReadiness, type ProbeOutcome, type WaitRequest } from "./readiness.ts";
import type { InstanceView } from "./view.ts";

/** Options of `waitUntilReady`. */
export interface WaitOptions {
  selection: InstanceSelection;
  request: WaitRequest;
  timeoutMs: number;
  /** Status poll interval. */
  pollMs?: number;
  /** Connection check through a forward; the real TCP probe by default. */
  probe?: (address: string, port: number) => Promise<ProbeOutcome>;
  io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } };
}

const DEFAULT_POLL_MS = 50;
const MAX_LISTED = 10;

type Pick = { kind: "view"; view: InstanceView } | { kind: "absent"; why: string } | { kind: "ambiguous"; why: string };

function notRunningText(view: InstanceView | null, target: string | null): string {
  const who = target ? `for ${displaySafe(target, 100)}` : "for this user";
  if (view === null) return `rdhpf is not running ${who}`;
  const age = view.staleAgeS === null ? "" : `; last state from ${formatAge(view.staleAgeS * 1000)} ago`;
  return view.unresponsive
    ? `rdhpf ${who} (PID ${view.doc.pid}) does not answer on its control socket${age}`
    : `rdhpf is not running ${who}${age}`;
}

/** The one live instance to wait on, or why there is none. */
async function pickInstance(selection: InstanceSelection): Promise<Pick> {
  if (selection.host) {
    try {
      const view = await queryInstance(selection.host.files, DEFAULT_QUERY_TIMEOUT_MS);
      return view?.live ? { kind: "view", view } : { kind: "absent", why: notRunningText(view, selection.host.target) };
    } catch (err) {
      return { kind: "absent", why: formatError(err).replace(/^rdhpf: /, "") };
    }
  }
  const { views } = await listInstances(selection.dir, DEFAULT_QUERY_TIMEOUT_MS);
  const live = views.filter((v) => v.live);
  if (live.length === 1) return { kind: "view", view: live[0]! };
  if (live.length > 1) {
    const hosts = live.map((v) => displaySafe(v.doc.host, 80)).join(", ");
    return { kind: "ambiguous", why: `several rdhpf instances are running (${hosts}): choose one with --host TARGET` };
  }
  return { kind: "absent", why: `${notRunningText(views[0] ?? null, null)} (runtime dir ${selection.dir})` };
}

function successLine(labels: string[], elapsedMs: number): string {
  const shown = labels.slice(0, MAX_LISTED).join(", ");
  const more = labels.length > MAX_LISTED ? ` and ${labels.length - MAX_LISTED} more` : "";
  return `rdhpf wait: ready after ${Math.round(elapsedMs)} ms: ${shown || "nothing to wait for"}${more}\n`;
}

/**
 * Waits until everything requested is forwarded and answers. Returns 0 when
 * ready, 1 on timeout (printing what is missing and why), 2 when the instance
 * is ambiguous (several running, no `--host`).
 */
export async function waitUntilReady(opts: WaitOptions): Promise<0 | 1 | 2> {
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const probe = opts.probe ?? ((address: string, port: number) => probeThroughTunnel(address, port));
  const t0 = performance.now();
  const deadline = t0 + opts.timeoutMs;
  const outcomes = new Map<string, ProbeOutcome>();
  const inflight = new Map<string, Promise<void>>();
  let wake = () => {};

  const verdict = (view: InstanceView) => assessReadiness(view.doc, opts.request, outcomes, new Date());
  for (;;) {
    const pick = await pickInstance(opts.selection);
    if (pick.kind === "ambiguous") {
      opts.io.stderr.write(`rdhpf: ${pick.why}\n`);
      return 2;
    }
    let missing = [pick.kind === "absent" ? pick.why : ""];
    if (pick.kind === "view") {
      const r = verdict(pick.view);
      if (r.ready) {
        opts.io.stdout.write(successLine(r.satisfied.map((t) => t.label), performance.now() - t0));
        return 0;
      }
      missing = r.missing;
      for (const t of r.toProbe) {
        if (inflight.has(t.key)) continue;
        inflight.set(t.key, probe(t.address, t.port).then((outcome) => {
          outcomes.set(t.key, outcome);
          inflight.delete(t.key);
          if (outcome.ok) wake(); // failures wait for the next poll: no busy loop on a refused port
        }));
      }
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      if (pick.kind === "view" && inflight.size > 0) {
        // Let the probes already running finish (bounded by their own timeouts): `--timeout 0` checks once.
        await Promise.all(inflight.values());
        const r = verdict(pick.view);
        if (r.ready) {
          opts.io.stdout.write(successLine(r.satisfied.map((t) => t.label), performance.now() - t0));
          return 0;
        }
        missing = r.missing;
      }
      const lines = missing.map((m) => `  ${m}`).join("\n");
      const waited = opts.timeoutMs % 1000 === 0 ? formatAge(opts.timeoutMs) : `${opts.timeoutMs} ms`;
      opts.io.stderr.write(`rdhpf wait: timed out after ${waited}; still missing:\n${lines}\n`);
      return 1;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(pollMs, left));
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
