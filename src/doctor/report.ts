/**
 * The doctor's result model: one entry per check, in a fixed order, and the
 * report `rdhpf doctor --format json` prints (documented in
 * docs/troubleshooting.md). Pure.
 *
 * @module
 */
import { z } from "zod";

/** Every check the doctor runs, in the order it prints them. */
export const CheckIdSchema = z.enum([
  "ssh-client",
  "target",
  "ssh-config",
  "host-key",
  "connection",
  "docker",
  "stream-local-forwarding",
  "ipv6-loopback",
  "sshd-tcp-forwarding",
  "sshd-max-sessions",
  "ssh-agent",
  "socket-paths",
  "runtime-dir",
  "instance",
  "docker-socket",
  "local-ports",
  "sshd-keepalive",
]);
/** The id of one check. */
export type CheckId = z.infer<typeof CheckIdSchema>;

/**
 * ok ✓; warn ⚠ (advice, or a fallback rdhpf handles); fail ✗ (rdhpf cannot
 * work as intended); unknown ? (could not be determined, never a failure);
 * skipped - (a check it depends on failed).
 */
export const CheckStatusSchema = z.enum(["ok", "warn", "fail", "unknown", "skipped"]);
/** The outcome of one check. */
export type CheckStatus = z.infer<typeof CheckStatusSchema>;

export const CheckResultSchema = z.object({
  id: CheckIdSchema,
  /** What is checked, for people: "host key known". */
  title: z.string(),
  status: CheckStatusSchema,
  /** What was found, one line. */
  detail: z.string(),
  /** The next step when status is not ok; null when there is nothing to do. */
  hint: z.string().nullable(),
});
/** One check's result. */
export type CheckResult = z.infer<typeof CheckResultSchema>;

export const DoctorReportSchema = z.object({
  /** Version of the rdhpf that ran the checks. */
  rdhpf_version: z.string(),
  /** TARGET as given (or taken from the environment); null when there is none. */
  host: z.string().nullable(),
  /** What `ssh -G` made of TARGET; null when it could not be resolved. */
  resolved: z.object({ user: z.string(), hostname: z.string(), port: z.number().int() }).nullable(),
  /** True when no check failed (then the exit status is 0). */
  ok: z.boolean(),
  checks: z.array(CheckResultSchema),
  /** Number of checks per status. */
  summary: z.object({ ok: z.number().int(), warn: z.number().int(), fail: z.number().int(), unknown: z.number().int(), skipped: z.number().int() }),
});
/** The whole doctor report (`--format json`). */
export type DoctorReport = z.infer<typeof DoctorReportSchema>;

/** Counts the checks per status. */
export function summarize(checks: CheckResult[]): DoctorReport["summary"] {
  const summary = { ok: 0, warn: 0, fail: 0, unknown: 0, skipped: 0 };
  for (const c of checks) summary[c.status]++;
  return summary;
}

/** 0 when nothing failed, else 1. Warnings, unknowns and skipped checks never fail the doctor. */
export function doctorExitCode(report: Pick<DoctorReport, "checks">): 0 | 1 {
  return report.checks.some((c) => c.status === "fail") ? 1 : 0;
}
