/**
 * The start hold: through rdhpf's Docker socket, the success response of
 * `POST /containers/{id}/start` and `/restart` reaches the client only once
 * that container's published TCP forwards are active or settled otherwise
 * (conflict, excluded by rules, UDP, ignored), at most `START_HOLD_MS`. So
 * `docker run -d -p P:80 img && curl 127.0.0.1:P` finds the port at the
 * first try instead of racing the event path (issue: ~19 ms late at p50).
 *
 * The hold can only delay a response, never change or lose it: a timeout or
 * an error releases it as it came, with one warning naming the container.
 *
 * Here: which responses are held (pure), when a container's forwards count
 * as settled (pure), and one hold's run with its log line and status figure.
 * The relay (docker_socket.ts) finds the responses; the engine (engine.ts)
 * triggers the reconcile and waits.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { RequestHead } from "../docker/mod.ts";
import type { ActiveForward, BlockedForward, DesiredForward } from "../forward/mod.ts";
import { displaySafe } from "../text_safety.ts";

const log = getLogger(["rdhpf", "docker", "socket"]);

/** Longest a start response is held; the bound. */
export const START_HOLD_MS = 2_000;

/** How far past its deadline a wait may run before the response goes on regardless. */
const BACKSTOP_GRACE_MS = 250;

/** How one hold ended. */
export type HoldOutcome =
  /** The forwards are active or settled: released as soon as they were. */
  | { outcome: "ready"; containerId: string }
  /** No published TCP port (or the container is not running any more): released at once. */
  | { outcome: "nothing-to-wait-for" }
  | { outcome: "timeout"; reason: string }
  | { outcome: "error"; reason: string };

/** Waits for a container's forwards (name, short or full id); never rejects. See Engine.awaitContainerForwards. */
export type AwaitContainerForwards = (containerRef: string, deadlineMs: number) => Promise<HoldOutcome>;

/** `POST [/vX.Y]/containers/{ref}/start|restart[?…]`. */
const START_TARGET = /^(?:\/v\d+(?:\.\d+)?)?\/containers\/([^/?#]+)\/(?:start|restart)(?:\?.*)?$/;

/**
 * The container whose forwards a response waits for: the ref from the
 * request target when the request is a start or restart and the response is
 * a success; otherwise null (the response goes on at once).
 */
export function heldContainer(request: RequestHead, status: number): string | null {
  if (request.method !== "POST" || status < 200 || status >= 300) return null;
  const m = START_TARGET.exec(request.target);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}

/**
 * True when the last reconcile dealt with every published port of
 * `containerId`: each wanted one is active for it or blocked (in conflict),
 * and the others were reported (unsupported, ignored, claimed). False while
 * the container was not in that reconcile's listing.
 */
export function forwardsSettled(containerId: string, desired: readonly DesiredForward[], active: ReadonlyMap<number, ActiveForward>, blocked: ReadonlyMap<number, BlockedForward>): boolean {
  const mine = desired.filter((d) => d.containerId === containerId);
  return mine.length > 0 && mine.every((d) => d.disposition !== "wanted" || active.get(d.localPort)?.containerId === containerId || blocked.get(d.localPort)?.desired.containerId === containerId);
}

/** Where a hold's outcome and added time go (the status store). */
export interface HoldRecorder {
  recordStartHold(outcome: HoldOutcome["outcome"], addedMs: number): void;
}

/**
 * Runs one hold: waits for the container's forwards and reports how it went.
 * Resolves when the response may go on; never rejects.
 */
export async function runStartHold(containerRef: string, wait: AwaitContainerForwards, recorder: HoldRecorder, deadlineMs = START_HOLD_MS): Promise<void> {
  const started = performance.now();
  let result: HoldOutcome;
  let backstop: ReturnType<typeof setTimeout> | undefined;
  try {
    // The wait keeps its deadline itself; this backstop makes sure no bug there can keep a response.
    const late = new Promise<HoldOutcome>((resolve) => (backstop = setTimeout(() => resolve({ outcome: "timeout", reason: `no answer within ${deadlineMs} ms` }), deadlineMs + BACKSTOP_GRACE_MS)));
    result = await Promise.race([wait(containerRef, deadlineMs), late]);
  } catch (err) {
    result = { outcome: "error", reason: (err as Error).message };
  } finally {
    clearTimeout(backstop);
  }
  const addedMs = performance.now() - started;
  recorder.recordStartHold(result.outcome, addedMs);
  if (result.outcome === "timeout" || result.outcome === "error") {
    log.warn("Released a start response before its forwards were ready", {
      container: displaySafe(containerRef, 80), outcome: result.outcome, reason: displaySafe(result.reason, 300), held_ms: Math.round(addedMs),
    });
  }
}
