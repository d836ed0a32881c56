/**
 * The clock by which the daemon orders what it learns about containers
 * (event arrivals, when a list or a look-up was sent: observed_store.ts) and
 * measures add latency. Milliseconds since the Unix epoch as of process
 * start, advanced by a monotonic timer, so it never steps.
 *
 * Why not `Date.now()`: the wall clock steps when NTP corrects it or a laptop
 * wakes up; a step backwards would make every later event look older than
 * the last full list, and the observed store would ignore them until the
 * next resync (up to 30 s of missed starts).
 *
 * @module
 */

/** Now, in epoch milliseconds that never go backwards (sub-millisecond precision). */
export function monotonicNowMs(): number {
  return performance.timeOrigin + performance.now();
}
