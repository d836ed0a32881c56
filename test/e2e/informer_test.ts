/**
 * End-to-end: the informer path (daemon/reconciler.ts, observed_store.ts)
 * through the compiled binary against a real remote Docker host. Between
 * two full lists, each container event changes only the container it names;
 * these scenarios pin down what that must get right (a rename, a restart,
 * a pause) and that the 30 s resync repairs a change no container event
 * announced.
 *
 * rdhpf runs at debug level: its "Resync done" line marks every full list,
 * which is how the tests tell the event path from the resync.
 *
 * Local ports of this file: 27100-27199.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, httpGet, isRefused, requireBinary, waitFor } from "./_harness.ts";
import { assertStatusIsTruth } from "./_truth.ts";

const skip = testbedSkipReason("end-to-end informer tests");

/** The daemon's periodic resync (engine default). */
const RESYNC_MS = 30_000;

describe("rdhpf keeps its view of the containers from events between resyncs (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  const truth = (timeoutMs = 3000) => assertStatusIsTruth(daemon, tb, { timeoutMs, ports: [27100, 27199] });
  const fullLists = () => daemon.logs().match(/Resync done/g)?.length ?? 0;
  const docker = async (args: string[]) => {
    const r = await tb.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const forwardOf = async (port: number) => (await daemon.status()).forwards.find((f) => f.local_port === port);

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    daemon = new Daemon(tb, ["--log-level", "debug"]);
    await daemon.waitForLog(/docker events stream started/, 15_000);
    await daemon.waitForLog(/Resync done/, 15_000);
  });

  after(async () => {
    await daemon?.stop("SIGTERM");
    daemon?.cleanup();
    await tb?.stop();
  });

  it("forwards and unforwards containers from their events alone, without listing all containers", async () => {
    const lists = fullLists();
    const started = Date.now();
    for (let i = 0; i < 5; i++) await docker(["run", "-d", "--name", `ev${i}`, "-p", `${27110 + i}:80`, tb.image]);
    for (let i = 0; i < 5; i++) await waitFor(`127.0.0.1:${27110 + i}`, () => httpGet(27110 + i), 3000);
    await docker(["rm", "-f", "ev0", "ev1"]);
    await waitFor("127.0.0.1:27110 refused", () => isRefused(27110), 3000);
    await waitFor("127.0.0.1:27111 refused", () => isRefused(27111), 3000);
    // A resync that fell inside this window would list; the scenario is far shorter than one interval.
    if (Date.now() - started < RESYNC_MS / 2) assert.equal(fullLists(), lists, "a container event led to a full list");
    await truth();
    await docker(["rm", "-f", "ev2", "ev3", "ev4"]);
  });

  it("shows a renamed container under its new name, its forward untouched", async () => {
    await docker(["run", "-d", "--name", "before-rename", "-p", "27120:80", tb.image]);
    await waitFor("127.0.0.1:27120", () => httpGet(27120), 3000);
    await docker(["rename", "before-rename", "after-rename"]);
    await waitFor("forward shown under the new name", async () => (await forwardOf(27120))?.container_name === "after-rename", 3000);
    assert.ok(await httpGet(27120));
    await truth();
    await docker(["rm", "-f", "after-rename"]);
  });

  it("forwards a restarted container again, on the port Docker assigned after the restart", async () => {
    await docker(["run", "-d", "--name", "restarted", "-p", "27130:80", "-p", "127.0.0.1::80", tb.image]);
    await waitFor("127.0.0.1:27130", () => httpGet(27130), 3000);
    await docker(["restart", "-t", "0", "restarted"]);
    await waitFor("127.0.0.1:27130 after the restart", () => httpGet(27130), 5000);
    // Whatever ephemeral port Docker chose this time is the one forwarded.
    const ephemeral = Number((await docker(["port", "restarted", "80/tcp"])).split("\n").find((l) => l.startsWith("127.0.0.1:"))!.split(":").pop());
    await waitFor(`127.0.0.1:${ephemeral} after the restart`, () => httpGet(ephemeral), 5000);
    await truth(5000);
    await docker(["rm", "-f", "restarted"]);
  });

  it("keeps a paused container's forward (Docker keeps its port mapping) and serves it again after unpause", async () => {
    await docker(["run", "-d", "--name", "paused", "-p", "27140:80", tb.image]);
    await waitFor("127.0.0.1:27140", () => httpGet(27140), 3000);
    await docker(["pause", "paused"]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await forwardOf(27140))?.state, "active", "a paused container lost its forward");
    assert.equal(await isRefused(27140), false, "the local port of a paused container refuses connections");
    await truth();
    await docker(["unpause", "paused"]);
    assert.ok(await waitFor("127.0.0.1:27140 after unpause", () => httpGet(27140), 3000));
    await docker(["rm", "-f", "paused"]);
  });

  it("repairs, at the next resync, a change that no container event announced", async () => {
    // Disconnecting a container from its network drops its port bindings;
    // Docker says so with a network event only, which rdhpf does not follow.
    await docker(["run", "-d", "--name", "unannounced", "-p", "27150:80", tb.image]);
    await waitFor("127.0.0.1:27150", () => httpGet(27150), 3000);
    const lists = fullLists();
    await docker(["network", "disconnect", "bridge", "unannounced"]);
    assert.equal((await docker(["port", "unannounced"])), "", "the test's premise: a disconnected container publishes nothing");
    await waitFor("a resync", () => fullLists() > lists, RESYNC_MS + 10_000, 200);
    await waitFor("127.0.0.1:27150 refused after the resync", () => isRefused(27150), 3000);
    await truth();
    await docker(["rm", "-f", "unannounced"]);
  });

  it("catches up with changes made while it was stopped (SIGSTOP), and the resync agrees", async () => {
    await docker(["run", "-d", "--name", "stop-old", "-p", "27160:80", tb.image]);
    await waitFor("127.0.0.1:27160", () => httpGet(27160), 3000);
    process.kill(daemon.pid, "SIGSTOP");
    try {
      await docker(["rm", "-f", "stop-old"]);
      await docker(["run", "-d", "--name", "stop-new", "-p", "27161:80", tb.image]);
      await docker(["run", "-d", "--name", "stop-renamed", "-p", "27162:80", tb.image]);
      await docker(["rename", "stop-renamed", "stop-renamed-2"]);
    } finally {
      process.kill(daemon.pid, "SIGCONT");
    }
    await waitFor("container started while stopped forwarded", () => httpGet(27161), 5000);
    await waitFor("container removed while stopped unforwarded", () => isRefused(27160), 5000);
    await waitFor("rename made while stopped shown", async () => (await forwardOf(27162))?.container_name === "stop-renamed-2", 5000);
    await truth(5000);
    const lists = fullLists();
    await waitFor("a resync", () => fullLists() > lists, RESYNC_MS + 10_000, 200);
    await truth();
    await docker(["rm", "-f", "stop-new", "stop-renamed-2"]);
  });
});
