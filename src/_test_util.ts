/**
 * Helpers for unit tests only (nothing in the product imports this file).
 *
 * @module
 */

/**
 * Resolves once `cond` holds, checking every `intervalMs`; rejects with
 * `what` after `timeoutMs`. For a positive condition a test polls with this
 * instead of sleeping and hoping: fast when the machine is, patient when it
 * is loaded.
 *
 * @example
 * ```ts
 * await waitUntil(() => closed, 2_000, "the server saw the connection close");
 * ```
 */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = "the condition", intervalMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
