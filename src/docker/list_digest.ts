/**
 * The fingerprint of a container list (`GET /containers/json`) as far as
 * rdhpf reads it. The resync every 30 s compares it with the last one: an
 * equal fingerprint means the same containers with the same ports, names and
 * labels, so the list need not be parsed or planned again (the idle cost,
 * see docs/performance.md).
 *
 * The body as sent, minus each container's `Status` ("Up 5 minutes"): that
 * human-readable age changes by itself every minute while nothing rdhpf uses
 * does. Everything else counts, even fields rdhpf ignores: a false "changed"
 * costs one parse, a false "same" would miss a repair.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A JSON string member `"Status":"..."` (escapes allowed), as Docker writes it. */
const STATUS_MEMBER = /"Status":"(?:[^"\\]|\\.)*"/g;

/** SHA-256 (hex) of the list body without its `Status` members. */
export function containerListDigest(body: string): string {
  return createHash("sha256").update(body.replace(STATUS_MEMBER, "")).digest("hex");
}
