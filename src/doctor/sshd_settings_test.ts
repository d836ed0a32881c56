import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quoteRemoteWord } from "../ssh/argv.ts";
import { parseSshdSettings, SSHD_SETTINGS_COMMAND } from "./sshd_settings.ts";

// As OpenSSH 9.2's `sshd -T` prints it (excerpt), behind the command's markers.
const KNOWN = `rdhpf-sshd-config /tmp/rdhpf-1a2b3c/sshd_config
port 22
maxsessions 50
clientaliveinterval 60
clientalivecountmax 3
allowtcpforwarding yes
allowstreamlocalforwarding no
permitopen any
rdhpf-sshd-exit 0
`;

describe("parseSshdSettings", () => {
  it("reads the settings and the config file of the serving sshd", () => {
    const s = parseSshdSettings(KNOWN);
    assert.ok(s.known);
    assert.equal(s.configFile, "/tmp/rdhpf-1a2b3c/sshd_config");
    assert.equal(s.values.get("maxsessions"), "50");
    assert.equal(s.values.get("allowstreamlocalforwarding"), "no");
  });

  const unknown: Array<[string, string, RegExp]> = [
    ["sshd -T as a user other than root", "rdhpf-sshd-config default\nsshd: no hostkeys available -- exiting.\nrdhpf-sshd-exit 1\n", /no hostkeys available/],
    ["no sshd on the host", "rdhpf-sshd-config default\nsh: 1: /usr/sbin/sshd: not found\nrdhpf-sshd-exit 127\n", /not found/],
    ["no output at all", "", /did not finish/],
  ];
  for (const [what, out, reason] of unknown) {
    it(`says why the settings are unknown: ${what}`, () => {
      const s = parseSshdSettings(out);
      assert.ok(!s.known);
      assert.match(s.reason, reason);
    });
  }
});

describe("SSHD_SETTINGS_COMMAND", () => {
  it("survives the remote shell's quoting: one line, no single quote, no double backslash", () => {
    const script = SSHD_SETTINGS_COMMAND[2]!;
    assert.ok(!/[\n']/.test(script));
    assert.ok(!script.includes("\\\\"));
    for (const w of SSHD_SETTINGS_COMMAND) quoteRemoteWord(w);
  });

  it("finds the -f of the listening sshd it runs under, skipping shells that hold the script", () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-sshdt-"));
    try {
      const file = join(dir, "probe.sh");
      writeFileSync(file, SSHD_SETTINGS_COMMAND.map(quoteRemoteWord).join(" "));
      // The parent's command line reads like sshd's listener; "; true" keeps sh from exec'ing the child.
      const r = spawnSync("bash", ["-c", `exec -a "sshd: /usr/sbin/sshd -D -f ${dir}/sshd_config [listener]" sh -c "sh ${file}; true"`], {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin", SSH_CONNECTION: "10.0.0.1 50000 10.0.0.2 22" },
      });
      assert.match(r.stdout, /^rdhpf-sshd-exit \d+$/m, r.stderr);
      const s = parseSshdSettings(r.stdout);
      assert.equal(s.configFile, `${dir}/sshd_config`);
      assert.ok(!s.known, "that config does not exist");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
