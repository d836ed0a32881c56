/**
 * Noticing that the network path to the Docker host is back, so that a
 * reconnect waiting out a long backoff (up to 30 s) starts at once instead,
 * and an ssh attempt still hanging on the dead path (a SYN or the banner
 * lost: it would wait for ConnectTimeout) is abandoned for a fresh one.
 *
 * Only for a direct connection: behind ProxyJump or ProxyCommand, a TCP
 * connection to the host's name says nothing about the path ssh takes. And
 * only "down, then up": a host that accepts TCP while ssh still fails (sshd
 * stopped mid-handshake, MaxStartups) keeps the normal backoff, so the retry
 * rate stays bounded whatever the failure.
 *
 * @module
 */
import { sleep } from "../sleep.ts";

/** How often the path is probed while a reconnect waits or an attempt hangs. */
export const ROUTE_PROBE_INTERVAL_MS = 1_000;
/**
 * A probe with no answer within this long counts as "down": on a silent path
 * a SYN is lost without an error, and the kernel would retry it for over two
 * minutes. Linux resends a lost SYN after 1 s, so a healthy path answers well
 * within this; a probe that misses one SYN just says "down" once more.
 */
export const ROUTE_PROBE_TIMEOUT_MS = 1_000;

/**
 * Probes one network path across the reconnect waits of a daemon. "Down"
 * seen in one wait still counts in the next: the path may come back while an
 * ssh attempt is in flight, and that attempt may still fail (its SYN was
 * lost); the next wait then sees "up" first and returns at once.
 */
export class RouteWatch {
  private sawDown = false;

  constructor(
    private readonly probe: () => Promise<boolean>,
    private readonly intervalMs = ROUTE_PROBE_INTERVAL_MS,
  ) {}

  /** After a successful connection: what was seen before says nothing about the next failure. */
  forget(): void {
    this.sawDown = false;
  }

  /**
   * Waits up to `maxMs` (may be Infinity); returns "back" early when the path
   * was seen down and is now up. A probe never hangs: `probe` must be bounded
   * (see ROUTE_PROBE_TIMEOUT_MS) and report no answer as false.
   *
   * `downSeen: "in-this-wait"` (beside an ssh attempt) counts only a down
   * this wait saw itself: an attempt started once the path already worked
   * is not hanging on the dead path and must not be abandoned.
   */
  async wait(maxMs: number, signal: AbortSignal, downSeen: "ever" | "in-this-wait" = "ever"): Promise<"back" | "elapsed" | "aborted"> {
    const deadline = Date.now() + maxMs;
    let downHere = false;
    while (!signal.aborted) {
      if (deadline - Date.now() <= 0) return "elapsed";
      const started = Date.now();
      const up = await this.probe();
      if (signal.aborted) break;
      if (up && (downSeen === "ever" ? this.sawDown : downHere)) {
        this.sawDown = false;
        return "back";
      }
      if (!up) this.sawDown = downHere = true;
      const left = deadline - Date.now();
      if (left <= 0) return "elapsed";
      await sleep(Math.min(left, Math.max(0, this.intervalMs - (Date.now() - started))), signal);
    }
    return "aborted";
  }
}
