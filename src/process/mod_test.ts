import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { commandLine, isAlive, isRunning, terminate, terminateChild, waitForExit } from "./mod.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function spawned(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: "ignore" });
  assert.ok(child.pid, `${cmd} started`);
  return child;
}

/** Children of `parent` (Linux): /proc/PID/task/*\/children. */
function childrenOf(parent: number): number[] {
  return readdirSync(`/proc/${parent}/task`).flatMap((t) =>
    readFileSync(`/proc/${parent}/task/${t}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number)
  );
}

async function until<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(10);
  }
}

describe("isAlive", () => {
  it("is true for a running process and false once it has exited", async () => {
    const child = spawned("sleep", ["5"]);
    assert.equal(isAlive(child.pid!), true);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    assert.equal(isAlive(child.pid!), false);
  });

  it("is true for a process of another user (EPERM) such as init", () => {
    assert.equal(isAlive(1), true);
  });

  it("is false for pids that address process groups or nothing", () => {
    for (const pid of [0, -1, 1.5, Number.NaN]) assert.equal(isAlive(pid), false, String(pid));
  });

  it("is false for a zombie: a child that exited and that its parent does not reap", { skip: process.platform !== "linux" && "reads /proc to find the grandchild" }, async () => {
    // sh starts `sleep 0.1` in the background and then becomes `sleep 5`,
    // which never waits for children: the short sleep stays a zombie.
    const parent = spawned("sh", ["-c", "sleep 0.1 & exec sleep 5"]);
    try {
      const zombie = await until("the background sleep appears", () => childrenOf(parent.pid!)[0]);
      await until("the background sleep is a zombie", () => readFileSync(`/proc/${zombie}/stat`, "utf8").includes(") Z "));
      assert.doesNotThrow(() => process.kill(zombie, 0), "kill(pid, 0) still finds the zombie");
      assert.equal(isAlive(zombie), false);
      assert.equal(await waitForExit(zombie, 1000), true);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});

describe("commandLine", () => {
  it("is the arguments joined by spaces", async () => {
    const child = spawned("sleep", ["5.25"]);
    try {
      // Right after fork the child still shows our own command line, until its exec.
      await until("sleep has exec'd", () => commandLine(child.pid!)?.includes("sleep 5.25"));
      // Deno passes the resolved path of the program as argv[0], Node and Bun the name.
      assert.match(commandLine(child.pid!) ?? "", /^(\S*\/)?sleep 5\.25$/);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("is null for a process that is gone", async () => {
    const child = spawned("true", []);
    await new Promise((r) => child.once("exit", r));
    assert.equal(commandLine(child.pid!), null);
  });
});

describe("terminate", () => {
  it("ends a process with SIGTERM and returns without waiting for the grace period", async () => {
    const child = spawned("sleep", ["5"]);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_code, signal) => r(signal)));
    const t0 = performance.now();
    await terminate(child.pid!, 3000);
    assert.ok(performance.now() - t0 < 2000, "did not wait out the grace period");
    assert.equal(await exited, "SIGTERM");
  });

  it("uses SIGKILL after the grace period when SIGTERM is ignored", async () => {
    const child = spawned("sh", ["-c", "trap '' TERM; while :; do sleep 0.05; done"]);
    await sleep(100); // let the shell install its trap
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_code, signal) => r(signal)));
    await terminate(child.pid!, 200);
    assert.equal(await exited, "SIGKILL");
  });
});

describe("terminateChild", () => {
  it("ends a running child and resolves once it exited", async () => {
    const child = spawned("sleep", ["5"]);
    await terminateChild(child, 1000);
    assert.equal(isRunning(child), false);
    assert.equal(child.signalCode, "SIGTERM");
  });

  it("does nothing for a child that already exited", async () => {
    const child = spawned("true", []);
    await new Promise((r) => child.once("exit", r));
    await terminateChild(child, 1000);
    assert.equal(child.exitCode, 0);
  });
});
