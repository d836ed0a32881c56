/**
 * The one backoff helper: 1, 2, 4 … seconds, capped. Retries go on forever;
 * the cap keeps a dead host from being hammered and bounds the time to notice
 * that it is back.
 *
 * @module
 */

/** Delay before retry number `attempt` (0-based): base·2^attempt, at most capMs. */
export function backoffDelayMs(attempt: number, capMs = 30_000, baseMs = 1_000): number {
  if (attempt < 0) return 0;
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
}
