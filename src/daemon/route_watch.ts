/**
 * Noticing that the network path to the Docker host is back, so that a
 * reconnect waiting out a long backoff (up to 30 s) starts at once instead.
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

/** How often the path is probed while a reconnect waits. */
export const ROUTE_PROBE_INTERVAL_MS = 2_000;

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

  /** Waits up to `maxMs`; returns "back" early when the path was seen down and is now up. */
  async wait(maxMs: number, signal: AbortSignal): Promise<"back" | "elapsed" | "aborted"> {
    const deadline = Date.now() + maxMs;
    while (!signal.aborted) {
      if (deadline - Date.now() <= 0) return "elapsed";
      const started = Date.now();
      const up = await this.probe();
      if (signal.aborted) break;
      if (up && this.sawDown) {
        this.sawDown = false;
        return "back";
      }
      if (!up) this.sawDown = true;
      const left = deadline - Date.now();
      if (left <= 0) return "elapsed";
      await sleep(Math.min(left, Math.max(0, this.intervalMs - (Date.now() - started))), signal);
    }
    return "aborted";
  }
}
