/**
 * The doctor report as text (one line per check, the fix under anything not
 * ok) or JSON (`DoctorReportSchema`). Pure.
 *
 * @module
 */
import { z } from "zod";
import { displaySafe } from "../text_safety.ts";
import type { CheckStatus, DoctorReport } from "./report.ts";

/**
 * Details and hints quote what the remote said (server versions, sshd
 * settings, container names): a hostile Docker host must not be able to move
 * the cursor or recolour the terminal, so they are escaped like status rows.
 */
const MAX_LINE_COLUMNS = 1000;
const safe = (s: string) => displaySafe(s, MAX_LINE_COLUMNS);

export const DoctorFormatSchema = z.enum(["text", "json"]);
/** Output format of `rdhpf doctor`. */
export type DoctorFormat = z.infer<typeof DoctorFormatSchema>;

/** The mark printed before each check. */
export const STATUS_MARKS: Record<CheckStatus, string> = { ok: "✓", warn: "⚠", fail: "✗", unknown: "?", skipped: "-" };

/**
 * The text report.
 *
 * @example
 * ```
 * ✓ ssh client                       OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15
 * ✗ host key known                   No ED25519 host key is known for [10.200.0.2]:22 …
 *     fix: add the host key: ssh-keyscan -p 22 10.200.0.2 >> ~/.ssh/known_hosts …
 * ```
 */
export function renderDoctorText(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.title.length));
  const head = r.resolved
    ? safe(`rdhpf doctor for ${r.host} (${r.resolved.user}@${r.resolved.hostname}, port ${r.resolved.port})`)
    : safe(`rdhpf doctor${r.host ? ` for ${r.host}` : ""}`);
  const lines = [head, ""];
  for (const c of r.checks) {
    lines.push(`${STATUS_MARKS[c.status]} ${c.title.padEnd(width)}  ${safe(c.detail)}`);
    if (c.hint && c.status !== "ok" && c.status !== "skipped") lines.push(`    fix: ${safe(c.hint)}`);
  }
  const s = r.summary;
  const parts = [`${s.ok} ok`, `${s.warn} warning(s)`, `${s.fail} failed`];
  if (s.unknown > 0) parts.push(`${s.unknown} unknown`);
  if (s.skipped > 0) parts.push(`${s.skipped} skipped`);
  lines.push("", `${r.checks.length} checks: ${parts.join(", ")}${r.ok ? "" : " (exit status 1)"}`);
  return `${lines.join("\n")}\n`;
}

/** The report in the chosen format. */
export function renderDoctor(r: DoctorReport, format: DoctorFormat): string {
  return format === "json" ? `${JSON.stringify(r, null, 2)}\n` : renderDoctorText(r);
}
