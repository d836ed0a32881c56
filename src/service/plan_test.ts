import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse } from "plist";
import { managerCommands, planService, serviceArgvFromFile, type ServicePlatform } from "./plan.ts";

function plan(platform: ServicePlatform, home: string, runArgs: string[] = ["--log-level", "info"]) {
  return planService({ platform, home, uid: 501, binary: "/usr/local/bin/rdhpf", target: "ssh://docker@docker-host.example", runArgs });
}

describe("planService", () => {
  it("puts the LaunchAgent at ~/Library/LaunchAgents/com.rdhpf.plist and logs under ~/Library/Logs/rdhpf", () => {
    const p = plan("darwin", "/Users/ci");
    assert.equal(p.filePath, "/Users/ci/Library/LaunchAgents/com.rdhpf.plist");
    assert.equal(p.logDir, "/Users/ci/Library/Logs/rdhpf");
    const doc = parse(p.content) as Record<string, unknown>;
    assert.deepEqual(doc.ProgramArguments, ["/usr/local/bin/rdhpf", "run", "--host", "ssh://docker@docker-host.example", "--log-level", "info"]);
  });

  it("puts the unit at ~/.config/systemd/user/rdhpf.service", () => {
    const p = plan("linux", "/home/ci");
    assert.equal(p.filePath, "/home/ci/.config/systemd/user/rdhpf.service");
    assert.equal(p.logDir, null);
    assert.match(p.content, /^ExecStart="\/usr\/local\/bin\/rdhpf" "run" "--host" "ssh:\/\/docker@docker-host.example" "--log-level" "info"$/m);
  });

  const commands: Array<[ServicePlatform, keyof ReturnType<typeof plan>, string[]]> = [
    ["darwin", "install", ["launchctl bootout gui/501/com.rdhpf", "launchctl enable gui/501/com.rdhpf", "launchctl bootstrap gui/501 /Users/ci/Library/LaunchAgents/com.rdhpf.plist"]],
    ["darwin", "uninstall", ["launchctl bootout gui/501/com.rdhpf"]],
    ["darwin", "status", ["launchctl print gui/501/com.rdhpf"]],
    ["linux", "install", ["systemctl --user daemon-reload", "systemctl --user enable rdhpf.service", "systemctl --user restart rdhpf.service"]],
    ["linux", "uninstall", ["systemctl --user disable --now rdhpf.service"]],
    ["linux", "afterUninstall", ["systemctl --user daemon-reload"]],
    ["linux", "status", ["systemctl --user is-active rdhpf.service"]],
  ];
  for (const [platform, which, want] of commands) {
    it(`${platform} ${which}: ${want.join(" && ")}`, () => {
      const p = plan(platform, platform === "darwin" ? "/Users/ci" : "/home/ci");
      assert.deepEqual((p[which] as Array<{ argv: string[] }>).map((c) => c.argv.join(" ")), want);
    });
  }

  it("tells about SSH_AUTH_SOCK only when none is given", () => {
    assert.ok(plan("linux", "/home/ci").notes.some((n) => n.includes("SSH_AUTH_SOCK")));
    const withAgent = planService({ platform: "linux", home: "/home/ci", uid: 1000, binary: "/usr/local/bin/rdhpf", target: "dockerbox", runArgs: [], env: { SSH_AUTH_SOCK: "/run/user/1000/agent" } });
    assert.ok(!withAgent.notes.some((n) => n.includes("SSH_AUTH_SOCK")));
    assert.match(withAgent.content, /^Environment="SSH_AUTH_SOCK=\/run\/user\/1000\/agent"$/m);
  });

  it("starts the daemon without Bun's GC timer, so it need not re-exec itself (gc_pacing.ts)", () => {
    assert.match(plan("linux", "/home/ci").content, /^Environment="BUN_GC_TIMER_DISABLE=1"$/m);
    assert.match(plan("darwin", "/Users/ci").content, /<key>BUN_GC_TIMER_DISABLE<\/key>\s*<string>1<\/string>/);
  });
});

describe("serviceArgvFromFile: the argv read back from the file install wrote", () => {
  const awkward = ["--log-level", "info", "-o", "ProxyCommand=ssh -W %h:%p jump", "--log-file", "/tmp/a dir/$HOME \"q\" \\ x.log", "--include-ports", "8000-9000"];
  for (const platform of ["darwin", "linux"] as const) {
    it(`${platform}: gives back exactly what was written, quoting and all`, () => {
      const p = planService({ platform, home: "/home/u", uid: 1000, binary: "/opt/rdhpf dir/bin/rdhpf", target: "ssh://docker@host.example:2222", runArgs: awkward });
      assert.deepEqual(serviceArgvFromFile(platform, p.content), ["/opt/rdhpf dir/bin/rdhpf", "run", "--host", "ssh://docker@host.example:2222", ...awkward]);
    });
    it(`${platform}: null for a file that is not a service file of rdhpf run`, () => {
      assert.equal(serviceArgvFromFile(platform, "[Service]\nExecStart=/usr/bin/other --flag\n"), null);
      assert.equal(serviceArgvFromFile(platform, ""), null);
    });
  }
});

describe("managerCommands().start: starts the service without signalling a running daemon", () => {
  it("launchd: kickstart without -k (which would send SIGTERM)", () => {
    const { start } = managerCommands({ platform: "darwin", home: "/Users/u", uid: 501 });
    assert.deepEqual(start.map((c) => c.argv), [["launchctl", "kickstart", "gui/501/com.rdhpf"]]);
  });
  it("systemd: restart, which starts a unit whose main process has exited", () => {
    const { start } = managerCommands({ platform: "linux", home: "/home/u", uid: 1000 });
    assert.deepEqual(start.map((c) => c.argv), [["systemctl", "--user", "restart", "rdhpf.service"]]);
  });
});
