/**
 * Helpers shared by the Docker Engine integration tests: the test-bed gate,
 * an event recorder with arrival times, and small measurements.
 *
 * @module
 */
import { readdirSync } from "node:fs";
import type { EngineClient } from "../../src/docker/client.ts";
import type { DockerEvent } from "../../src/docker/schemas.ts";
import { testbedAvailability } from "../testbed/mod.ts";

/**
 * `false` when the test bed can be built, else the skip reason. In CI
 * (CI=true) never skips: startTestbed() then fails the suite.
 */
export function testbedSkipReason(suite: string): string | false {
  const availability = testbedAvailability();
  if (availability.available || process.env.CI === "true") return false;
  const reason = `test bed unavailable: ${availability.reason}`;
  process.stderr.write(`\n*** SKIPPING ${suite}: ${reason} (with CI=true this is a failure) ***\n\n`);
  return reason;
}

/** Open file descriptors of this process (Linux). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Nearest-rank percentile of samples (0 < p ≤ 100). */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Rounds milliseconds for a report line. */
export function ms(n: number): string {
  return `${Math.round(n * 100) / 100} ms`;
}

/** Polls until check() is true or timeoutMs passes. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One received event and when it reached the iterator. */
export interface ReceivedEvent {
  event: DockerEvent;
  /** performance.now() at arrival. */
  atMs: number;
  /** Milliseconds from the Engine stamping the event (timeNano) to its arrival; the test bed shares this machine's clock. */
  engineToIteratorMs: number;
}

/** Consumes `client.events()` in the background and records what arrives. */
export class EventRecorder {
  readonly received: ReceivedEvent[] = [];
  readonly order: string[] = [];
  openedAtMs: number | null = null;
  readonly done: Promise<void>;
  readonly #abort = new AbortController();
  #waiters: Array<() => void> = [];

  constructor(client: EngineClient, opts: { since?: number } = {}) {
    this.done = (async () => {
      const events = client.events({
        signal: this.#abort.signal,
        since: opts.since,
        onOpen: () => {
          this.openedAtMs = performance.now();
          this.order.push("open");
          this.#wake();
        },
      });
      for await (const event of events) {
        const engineMs = event.timeNano !== undefined ? event.timeNano / 1e6 : (event.time ?? 0) * 1000;
        this.received.push({ event, atMs: performance.now(), engineToIteratorMs: Date.now() - engineMs });
        this.order.push(event.Action ?? "");
        this.#wake();
      }
    })();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once the stream's headers arrived. */
  async opened(timeoutMs = 5000): Promise<void> {
    await this.#until(() => this.openedAtMs !== null, timeoutMs, "the event stream to open");
  }

  /** The first event (after `fromIndex`) matching action and container id. */
  async waitFor(action: string, id: string, timeoutMs = 5000, fromIndex = 0): Promise<ReceivedEvent> {
    const find = () => this.received.slice(fromIndex).find((r) => r.event.Action === action && r.event.Actor?.ID === id);
    await this.#until(() => find() !== undefined, timeoutMs, `event ${action} of ${id.slice(0, 12)}`);
    return find() as ReceivedEvent;
  }

  async #until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Aborts the stream; resolves when the iterator has returned, with how long that took. */
  async stop(): Promise<number> {
    const t0 = performance.now();
    this.#abort.abort();
    await this.done;
    return performance.now() - t0;
  }
}
