import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "plist";
import { RdhpfError } from "../errors.ts";
import { chooseBinary, type ServiceCliDeps, serviceCommand } from "./service.ts";

const scratch = mkdtempSync(join(tmpdir(), "rdhpf-service-cli-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const binary = join(scratch, "rdhpf");
writeFileSync(binary, "#!/bin/sh\nexit 0\n");
chmodSync(binary, 0o755);
let homes = 0;

interface Run {
  home: string;
  out: string;
  exitCode: number | null;
}

/** Runs `rdhpf service ARGS` with a temp HOME, never touching launchctl/systemctl. */
async function service(args: string[], over: Partial<ServiceCliDeps> & { home?: string } = {}): Promise<Run> {
  const home = over.home ?? join(scratch, `home-${homes++}`);
  mkdirSync(home, { recursive: true });
  const lines: string[] = [];
  let exitCode: number | null = null;
  const deps: Partial<ServiceCliDeps> = {
    platform: "linux",
    execPath: binary,
    uid: 501,
    cwd: scratch,
    allowExecute: false,
    print: (l) => void lines.push(l),
    setExitCode: (c) => void (exitCode = c),
    ...over,
    env: { PATH: "/usr/bin:/bin", HOME: home, ...over.env },
  };
  await serviceCommand(deps).parseAsync(args, { from: "user" });
  return { home, out: lines.join("\n"), exitCode };
}

function usage(pattern: RegExp) {
  return (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && pattern.test(`${e.message}\n${e.hint}`);
}

describe("chooseBinary", () => {
  it("takes the running executable when it is the compiled rdhpf", () => {
    assert.equal(chooseBinary(undefined, { execPath: "/usr/local/bin/rdhpf", cwd: "/" }), "/usr/local/bin/rdhpf");
  });
  for (const runtime of ["/usr/local/bin/bun", "/home/me/.deno/bin/deno", "/usr/bin/node"]) {
    it(`asks for --binary when running from sources under ${runtime}`, () => {
      assert.throws(() => chooseBinary(undefined, { execPath: runtime, cwd: "/" }), usage(/npm run build[\s\S]*--binary/));
    });
  }
  it("makes --binary absolute", () => {
    assert.equal(chooseBinary("dist/rdhpf-linux-x64", { execPath: "/usr/bin/node", cwd: "/src/rdhpf" }), "/src/rdhpf/dist/rdhpf-linux-x64");
  });
});

describe("rdhpf service install", () => {
  it("--dry-run --platform darwin prints a plist with the run options and writes nothing", async () => {
    writeFileSync(join(scratch, "ssh_config"), "");
    const r = await service([
      "install", "--dry-run", "--platform", "darwin", "--host", "ssh://docker@docker-host.example",
      "-F", "ssh_config", "-o", "IdentityFile=/keys/id_ed25519", "-o", "ServerAliveInterval=30", "--log-level", "debug", "--exclude-ports", "22",
      "--metrics-listen", "9469",
    ]);
    assert.deepEqual(readdirSync(r.home), []);
    const xml = r.out.slice(r.out.indexOf("<?xml"), r.out.indexOf("</plist>") + "</plist>".length);
    const doc = parse(xml) as Record<string, unknown>;
    assert.deepEqual(doc.ProgramArguments, [
      binary, "run", "--host", "ssh://docker@docker-host.example",
      "--ssh-config", join(scratch, "ssh_config"),
      "--ssh-option", "IdentityFile=/keys/id_ed25519", "--ssh-option", "ServerAliveInterval=30",
      "--exclude-ports", "22",
      "--log-level", "debug",
      "--metrics-listen", "9469",
      // launchd never rotates stderr.log, so the service logs to rdhpf's own rotated file
      "--log-file", `${r.home}/Library/Logs/rdhpf/rdhpf.log`,
    ]);
    assert.match(r.out, /launchctl bootstrap gui\/501 /);
  });

  const programArgs = async (extra: string[]) => {
    const r = await service(["install", "--dry-run", "--platform", "darwin", "--host", "box", "--log-file", "/l/rdhpf.log", ...extra]);
    const xml = r.out.slice(r.out.indexOf("<?xml"), r.out.indexOf("</plist>") + "</plist>".length);
    return ((parse(xml) as Record<string, unknown>).ProgramArguments as string[]).slice(4);
  };
  it("passes --no-docker-socket on to the service", async () => {
    assert.deepEqual(await programArgs(["--no-docker-socket"]), ["--no-docker-socket", "--log-file", "/l/rdhpf.log"]);
  });
  it("passes --docker-socket on to the service as an absolute path", async () => {
    assert.deepEqual(await programArgs(["--docker-socket", "run/docker.sock"]), ["--docker-socket", join(scratch, "run/docker.sock"), "--log-file", "/l/rdhpf.log"]);
  });

  it("--platform linux writes the unit (and, off Linux or without systemctl, prints the commands)", async () => {
    const r = await service(["install", "--platform", "linux", "--host", "dockerbox", "--max-forwards", "500", "--log-file", "logs/rdhpf.log"]);
    const unit = readFileSync(join(r.home, ".config/systemd/user/rdhpf.service"), "utf8");
    assert.match(unit, new RegExp(`^ExecStart="${binary}" "run" "--host" "dockerbox" "--max-forwards" "500" "--log-file" "${join(scratch, "logs/rdhpf.log")}"$`, "m"));
    assert.match(r.out, /systemctl --user daemon-reload/);
  });

  it("installing again replaces the file", async () => {
    const first = await service(["install", "--host", "dockerbox"]);
    await service(["install", "--host", "dockerbox", "--log-level", "warn"], { home: first.home });
    assert.match(readFileSync(join(first.home, ".config/systemd/user/rdhpf.service"), "utf8"), /"--log-level" "warn"/);
  });

  it("passes --ssh-auth-sock as SSH_AUTH_SOCK", async () => {
    const r = await service(["install", "--host", "dockerbox", "--ssh-auth-sock", "/run/user/501/agent.sock"]);
    assert.match(readFileSync(join(r.home, ".config/systemd/user/rdhpf.service"), "utf8"), /^Environment="SSH_AUTH_SOCK=\/run\/user\/501\/agent.sock"$/m);
  });

  const targets: Array<[string, Record<string, string>, string]> = [
    ["$RDHPF_HOST", { RDHPF_HOST: "dockerbox" }, "dockerbox"],
    ["an ssh:// $DOCKER_HOST", { DOCKER_HOST: "ssh://docker@docker-host.example:2222" }, "ssh://docker@docker-host.example:2222"],
  ];
  for (const [what, env, want] of targets) {
    it(`takes the target from ${what} and writes it into the service`, async () => {
      const r = await service(["install", "--dry-run"], { env });
      assert.ok(r.out.includes(`"--host" "${want}"`), r.out);
    });
  }

  it("takes the target from the config file, after $RDHPF_HOST", async () => {
    const home = join(scratch, `home-${homes++}`);
    mkdirSync(join(home, ".config/rdhpf"), { recursive: true });
    writeFileSync(join(home, ".config/rdhpf/config.json"), JSON.stringify({ host: "from-config" }));
    assert.ok((await service(["install", "--dry-run"], { home })).out.includes(`"--host" "from-config"`));
    assert.ok((await service(["install", "--dry-run"], { home, env: { RDHPF_HOST: "from-env" } })).out.includes(`"--host" "from-env"`));
  });

  it("without any target: exit 2 listing the options", async () => {
    await assert.rejects(service(["install", "--dry-run"], { env: { DOCKER_HOST: "unix:///var/run/docker.sock" } }), usage(/--host[\s\S]*RDHPF_HOST[\s\S]*DOCKER_HOST/));
  });

  const hostile: Array<[string, string[]]> = [
    ["a target that ssh would read as an option", ["--host", "-oProxyCommand=touch /tmp/x"]],
    ["a target with a line break", ["--host", "dockerbox\nExecStartPre=/bin/evil"]],
    ["an -o that rdhpf owns", ["--host", "dockerbox", "-o", "ControlPath=/tmp/x"]],
    ["an -o without =", ["--host", "dockerbox", "-o", "ForwardAgent"]],
    ["a bad --bind", ["--host", "dockerbox", "--bind", "0.0.0.0; evil"]],
    ["bad port rules", ["--host", "dockerbox", "--include-ports", "1-2-3"]],
    ["a bad --metrics-listen", ["--host", "dockerbox", "--metrics-listen", "localhost:9469"]],
  ];
  for (const [what, args] of hostile) {
    it(`refuses ${what} with exit 2 before writing anything`, async () => {
      const home = join(scratch, `home-${homes++}`);
      await assert.rejects(service(["install", ...args], { home }), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2);
      assert.deepEqual(readdirSync(home), []);
    });
  }

  it("refuses a binary that is not there (exit 2) when installing on this platform", async () => {
    await assert.rejects(service(["install", "--host", "dockerbox", "--binary", join(scratch, "missing")]), usage(/not an executable file/));
  });

  it("refuses a --max-forwards that is not a whole number from 1 to 65535, writing nothing", async () => {
    const home = join(scratch, `home-${homes++}`);
    await assert.rejects(service(["install", "--host", "dockerbox", "--max-forwards", "70000"], { home }), (e: unknown) => (e as { code?: string }).code === "commander.invalidArgument");
    assert.deepEqual(readdirSync(home), []);
  });

  it("refuses, with --platform, a platform it cannot write for", async () => {
    await assert.rejects(service(["install", "--host", "dockerbox", "--platform", "windows"]), (e: unknown) => (e as { code?: string }).code === "commander.invalidArgument");
  });
});

describe("rdhpf service uninstall and status", () => {
  it("status: exit 3 when not installed, 0 (state unknown here) when installed", async () => {
    const none = await service(["status"]);
    assert.equal(none.exitCode, 3);
    assert.match(none.out, /not installed/);
    await service(["install", "--host", "dockerbox"], { home: none.home });
    const installed = await service(["status", "--format", "json"], { home: none.home });
    assert.equal(installed.exitCode, null);
    const doc = JSON.parse(installed.out);
    assert.deepEqual([doc.installed, doc.managed, doc.state], [true, true, null]);
  });

  it("uninstall removes what install wrote", async () => {
    const r = await service(["install", "--host", "dockerbox", "--platform", "darwin"]);
    const plist = join(r.home, "Library/LaunchAgents/com.rdhpf.plist");
    assert.ok(existsSync(plist));
    await service(["uninstall", "--platform", "darwin"], { home: r.home });
    assert.ok(!existsSync(plist));
  });

  it("uninstall refuses a service file it did not write (exit 2)", async () => {
    const home = join(scratch, `home-${homes++}`);
    mkdirSync(join(home, ".config/systemd/user"), { recursive: true });
    writeFileSync(join(home, ".config/systemd/user/rdhpf.service"), "[Service]\nExecStart=/usr/local/bin/rdhpf run\n");
    await assert.rejects(service(["uninstall"], { home }), usage(/not written by rdhpf/));
    assert.ok(existsSync(join(home, ".config/systemd/user/rdhpf.service")));
  });
});
