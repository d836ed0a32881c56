/**
 * Durations as operators type and read them: `500ms`, `30s`, `2m`, `1h` in,
 * `2h 13m` out.
 *
 * @module
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Longest accepted duration; also keeps timers far below their 2^31 ms limit. */
export const MAX_DURATION_MS = 24 * 3_600_000;

/**
 * Parses `500ms`, `30s`, `1.5s`, `2m`, `1h` (a bare number means seconds) into
 * milliseconds; null when the text is not such a duration or above 24 h.
 */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2] ?? "s"]!);
  return Number.isFinite(ms) && ms <= MAX_DURATION_MS ? ms : null;
}

/**
 * Short human age with the two most significant units: `0s`, `42s`, `5m 3s`,
 * `2h 13m`, `3d 4h`. Negative input (clock skew) reads as `0s`.
 */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** Age of an ISO 8601 time at `now`, or null when the time is null or unparsable. */
export function ageMs(iso: string | null, now: Date): number | null {
  if (iso === null) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : now.getTime() - t;
}
