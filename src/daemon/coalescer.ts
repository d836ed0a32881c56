/**
 * Runs a job on demand, never twice at once: requests that arrive while the
 * job runs are merged into one more run right after. A burst of Docker events
 * (50 containers started at once) thus costs a handful of reconciles, not 50,
 * and no request waits longer than one job plus `delayMs`.
 *
 * @module
 */
import { sleep } from "../sleep.ts";

export class Coalescer<T> {
  private pending: T[] = [];
  private dirty = false;
  private running: Promise<void> | null = null;
  /** Callers of `requestAndWait` for the next run. */
  private waiting: Array<() => void> = [];

  constructor(
    private readonly job: (triggers: T[]) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    /** Short wait before a run so that events arriving together share it. */
    private readonly delayMs = 2,
  ) {}

  /** Asks for a run; `trigger` (if given) is handed to that run. */
  request(trigger?: T): void {
    if (trigger !== undefined) this.pending.push(trigger);
    this.dirty = true;
    if (!this.running) this.running = this.loop();
  }

  /** Asks for a run and resolves when a run that started after this call has finished (whether it failed or not). */
  requestAndWait(trigger?: T): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.request(trigger);
    });
  }

  /** Resolves when no run is in progress or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      await sleep(this.delayMs);
      while (this.dirty) {
        this.dirty = false;
        const triggers = this.pending;
        const waiting = this.waiting;
        this.pending = [];
        this.waiting = [];
        try {
          await this.job(triggers);
        } catch (err) {
          this.onError(err);
        }
        for (const done of waiting) done();
      }
    } finally {
      this.running = null;
    }
  }
}
