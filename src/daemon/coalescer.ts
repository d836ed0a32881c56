/**
 * Runs a job on demand, never twice at once: requests that arrive while the
 * job runs are merged into one more run right after. A burst of Docker events
 * (50 containers started at once) thus costs a handful of reconciles, not 50,
 * and no request waits longer than one job plus `delayMs`. A request that
 * brings everything its run needs (the start hold's) asks for `now` and
 * skips that wait.
 *
 * @module
 */
export class Coalescer<T> {
  private pending: T[] = [];
  private dirty = false;
  private running: Promise<void> | null = null;
  /** Callers of `requestAndWait` for the next run. */
  private waiting: Array<() => void> = [];
  /** Ends the wait before a run early (a request with `now`); null outside that wait. */
  private hurry: (() => void) | null = null;

  constructor(
    private readonly job: (triggers: T[]) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    /** Short wait before a run so that events arriving together share it. */
    private readonly delayMs = 2,
  ) {}

  /**
   * Asks for a run; `trigger` (if given) is handed to that run. `now`: the
   * run starts without the `delayMs` wait (still after a run in progress).
   */
  request(trigger?: T, opts: { now?: boolean } = {}): void {
    if (trigger !== undefined) this.pending.push(trigger);
    this.dirty = true;
    if (!this.running) this.running = this.loop();
    if (opts.now) this.hurry?.();
  }

  /** Asks for a run and resolves when a run that started after this call has finished (whether it failed or not). */
  requestAndWait(trigger?: T, opts: { now?: boolean } = {}): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.request(trigger, opts);
    });
  }

  /** Resolves when no run is in progress or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      await this.gather();
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

  /** The wait before a run: `delayMs`, or less when a request with `now` comes. */
  private gather(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.hurry = null;
        resolve();
      };
      const timer = setTimeout(done, this.delayMs);
      this.hurry = done;
    });
  }
}
