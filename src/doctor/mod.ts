/**
 * `rdhpf doctor`: checks everything rdhpf needs, on this machine and on the
 * Docker host, and says how to fix what is missing. Pure verdicts and
 * rendering (checks.ts, report.ts, render.ts, sshd_settings.ts), probes in
 * run_doctor.ts.
 *
 * @example
 * ```ts
 * const report = await runDoctor({ host: "dockerbox", hostSource: "--host", ssh: { configFile: null, options: [] }, rules: NO_RULES, env: process.env, rdhpfVersion: VERSION, hasIpv6Loopback, binds: [], onConflict: "wait" });
 * process.stdout.write(renderDoctor(report, "text"));
 * process.exitCode = doctorExitCode(report);
 * ```
 *
 * @module
 */
export { buildReport, CHECK_TITLES, type DoctorFacts } from "./checks.ts";
export { type DoctorFormat, DoctorFormatSchema, renderDoctor, renderDoctorText, STATUS_MARKS } from "./render.ts";
export { type CheckId, CheckIdSchema, type CheckResult, CheckResultSchema, type CheckStatus, CheckStatusSchema, type DoctorReport, DoctorReportSchema, doctorExitCode } from "./report.ts";
export { type DoctorOptions, runDoctor } from "./run_doctor.ts";
