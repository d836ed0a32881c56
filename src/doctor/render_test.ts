import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderDoctor, renderDoctorText } from "./render.ts";
import { type DoctorReport, DoctorReportSchema, doctorExitCode, summarize } from "./report.ts";

const checks: DoctorReport["checks"] = [
  { id: "ssh-client", title: "ssh client", status: "ok", detail: "OpenSSH_9.2p1", hint: null },
  { id: "host-key", title: "host key known", status: "fail", detail: "No ED25519 host key is known for 10.0.0.2", hint: "ssh-keyscan -p 22 10.0.0.2 >> ~/.ssh/known_hosts" },
  { id: "connection", title: "connection and auth (BatchMode)", status: "skipped", detail: "the host key check failed first", hint: null },
  { id: "sshd-keepalive", title: "sshd keepalive", status: "warn", detail: "ClientAliveInterval 0", hint: "set ClientAliveInterval 60" },
  { id: "sshd-max-sessions", title: "sshd MaxSessions", status: "unknown", detail: "MaxSessions unknown", hint: "sudo sshd -T" },
];
const report: DoctorReport = {
  rdhpf_version: "1.2.3",
  host: "dockerbox",
  resolved: { user: "root", hostname: "10.0.0.2", port: 22 },
  ok: false,
  checks,
  summary: summarize(checks),
};

describe("summarize and doctorExitCode", () => {
  it("count each status and fail only on a failed check", () => {
    assert.deepEqual(report.summary, { ok: 1, warn: 1, fail: 1, unknown: 1, skipped: 1 });
    assert.equal(doctorExitCode(report), 1);
    assert.equal(doctorExitCode({ checks: checks.filter((c) => c.status !== "fail") }), 0);
  });
});

describe("renderDoctorText", () => {
  const text = renderDoctorText(report);
  const lines = text.split("\n");

  it("heads with TARGET and what ssh -G made of it", () => {
    assert.equal(lines[0], "rdhpf doctor for dockerbox (root@10.0.0.2, port 22)");
  });

  it("prints one marked, aligned line per check and the fix under what is not ok", () => {
    assert.ok(lines.includes("✓ ssh client                       OpenSSH_9.2p1"), text);
    assert.ok(lines.includes("✗ host key known                   No ED25519 host key is known for 10.0.0.2"), text);
    assert.ok(lines.includes("    fix: ssh-keyscan -p 22 10.0.0.2 >> ~/.ssh/known_hosts"), text);
    assert.ok(lines.includes("⚠ sshd keepalive                   ClientAliveInterval 0"), text);
    assert.ok(lines.includes("? sshd MaxSessions                 MaxSessions unknown"), text);
    assert.ok(lines.includes("- connection and auth (BatchMode)  the host key check failed first"), text);
  });

  it("escapes what a hostile remote put in a detail or a fix, so it cannot drive the terminal", () => {
    const hostile: DoctorReport = {
      ...report,
      checks: [{ id: "docker", title: "remote Docker", status: "warn", detail: "Docker 99\u001b[2J\nforged line", hint: "run \u001b]0;title\u0007 now" }],
    };
    const out = renderDoctorText(hostile);
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f]/.test(out), JSON.stringify(out));
    assert.match(out, /Docker 99\\x1b\[2J\\nforged line/);
    assert.match(out, /fix: run \\x1b\]0;title\\x07 now/);
  });

  it("ends with the totals and the exit status", () => {
    assert.equal(lines.at(-2), "5 checks: 1 ok, 1 warning(s), 1 failed, 1 unknown, 1 skipped (exit status 1)");
  });
});

describe("renderDoctor json", () => {
  it("prints the report that DoctorReportSchema reads back", () => {
    assert.deepEqual(DoctorReportSchema.parse(JSON.parse(renderDoctor(report, "json"))), report);
  });
});
