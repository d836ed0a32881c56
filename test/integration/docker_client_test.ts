// EngineClient against the real dockerd 20.10 (API 1.41) of a test bed,
// reached directly on its unix socket: the same HTTP that rdhpf speaks over
// the socket forwarded through the SSH master.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EngineClient } from "../../src/docker/client.ts";
import { isContainerLifecycleEvent } from "../../src/docker/events.ts";
import { startTestbed, type Testbed } from "../testbed/mod.ts";
import { EventRecorder, ms, openFds, percentile, testbedSkipReason, waitUntil } from "./_docker_support.ts";

const skip = testbedSkipReason("Docker Engine client integration tests");

describe("EngineClient against a real dockerd", { skip }, () => {
  let tb: Testbed;
  let client: EngineClient;

  async function docker(args: string[]): Promise<string> {
    const r = await tb.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  }

  before(async () => {
    tb = await startTestbed();
    client = new EngineClient({ socketPath: tb.dockerSocket });
  });

  after(async () => {
    client?.close();
    await tb?.stop();
  });

  it("negotiates API 1.41 with dockerd 20.10", async () => {
    await client.ping();
    const info = await client.negotiate();
    assert.equal(info.apiVersion, "1.41");
    assert.match(info.serverVersion, /^20\.10\./);
    assert.deepEqual([info.os, info.arch.length > 0], ["linux", true]);
  });

  it("lists a -P container with the port Docker assigned", async () => {
    const id = await docker(["run", "-d", "--name", "ephemeral", "--expose", "80", "-P", tb.image]);
    // `docker port` prints e.g. "0.0.0.0:49153" and "[::]:49153".
    const assigned = (await docker(["port", id, "80/tcp"])).split("\n").map((l) => Number(l.slice(l.lastIndexOf(":") + 1)));
    const listed = (await client.listContainers()).find((c) => c.id === id);
    assert.ok(listed, "the container is listed");
    assert.equal(listed.name, "ephemeral");
    assert.ok(assigned.length > 0 && listed.ports.length === assigned.length);
    for (const p of listed.ports) {
      assert.ok(assigned.includes(p.publicPort), `port ${p.publicPort} is one of ${assigned.join(", ")}`);
      assert.deepEqual([p.privatePort, p.protocol], [80, "tcp"]);
    }
    assert.deepEqual(await client.inspectContainer(id), listed);
    await docker(["rm", "-f", id]);
    assert.equal(await client.inspectContainer(id), null);
    assert.equal((await client.listContainers()).some((c) => c.id === id), false);
  });

  it("lists bindings on a specific address, udp, and exposed-only ports as Docker made them", async () => {
    const id = await docker(["run", "-d", "-p", "127.0.0.1::80", "-p", "5353:53/udp", "--expose", "9000", tb.image]);
    const listed = (await client.listContainers()).find((c) => c.id === id);
    assert.ok(listed);
    const tcp = listed.ports.filter((p) => p.protocol === "tcp");
    assert.equal(tcp.length, 1);
    assert.equal(tcp[0]?.hostIp, "127.0.0.1");
    assert.deepEqual(listed.ports.filter((p) => p.protocol === "udp").map((p) => p.publicPort), [5353, 5353]);
    assert.equal(listed.ports.some((p) => p.privatePort === 9000), false);
    await docker(["rm", "-f", id]);
  });

  it("streams start and die of docker run / docker rm -f, opening before any event", async () => {
    const recorder = new EventRecorder(client);
    await recorder.opened();
    const runStarted = performance.now();
    const id = await docker(["run", "-d", tb.image]);
    const runExited = performance.now();
    const start = await recorder.waitFor("start", id, 2000);
    await docker(["rm", "-f", id]);
    const rmExited = performance.now();
    const die = await recorder.waitFor("die", id, 2000);
    await recorder.waitFor("destroy", id, 2000);
    const abortMs = await recorder.stop();

    assert.equal(recorder.order[0], "open");
    assert.ok(isContainerLifecycleEvent(start.event) && isContainerLifecycleEvent(die.event));
    // The start event is sent while `docker run` is still finishing: it may arrive before the CLI exits.
    const startLatency = start.atMs - runExited;
    const dieLatency = die.atMs - rmExited;
    process.stdout.write(
      `  event delivery: start ${ms(startLatency)} after docker run exited (run took ${ms(runExited - runStarted)}), die ${ms(dieLatency)} after docker rm -f exited;` +
        ` Engine→iterator ${ms(start.engineToIteratorMs)} / ${ms(die.engineToIteratorMs)}; abort returned in ${ms(abortMs)}\n`,
    );
    assert.ok(startLatency < 50, `start arrived ${ms(startLatency)} after docker run exited`);
    assert.ok(dieLatency < 50, `die arrived ${ms(dieLatency)} after docker rm -f exited`);
  });

  it("replays events since a given time", async () => {
    const sinceS = Date.now() / 1000 - 1;
    const id = await docker(["run", "-d", tb.image]);
    const recorder = new EventRecorder(client, { since: sinceS });
    await recorder.waitFor("start", id, 2000);
    await recorder.stop();
    await docker(["rm", "-f", id]);
  });

  it("keeps an event stream alive through 10 s of silence", { timeout: 30_000 }, async () => {
    const recorder = new EventRecorder(client);
    await recorder.opened();
    await new Promise((r) => setTimeout(r, 10_000));
    const id = await docker(["run", "-d", tb.image]);
    await recorder.waitFor("start", id, 2000);
    await recorder.stop();
    await docker(["rm", "-f", id]);
  });

  it("ends the stream promptly on abort and leaks no socket", async () => {
    // Warm up the keep-alive pool so that only the stream's own socket can differ.
    await client.listContainers();
    const fdsBefore = openFds();
    for (let i = 0; i < 5; i++) {
      const recorder = new EventRecorder(client);
      await recorder.opened();
      const abortMs = await recorder.stop();
      assert.ok(abortMs < 100, `the iterator returned ${ms(abortMs)} after abort`);
    }
    await waitUntil(() => openFds() <= fdsBefore, 1000, `open fds back to ${fdsBefore} (now ${openFds()})`);
  });

  it("ends an event stream when the client is closed", async () => {
    const own = new EngineClient({ socketPath: tb.dockerSocket });
    const recorder = new EventRecorder(own);
    await recorder.opened();
    const t0 = performance.now();
    own.close();
    await recorder.done;
    assert.ok(performance.now() - t0 < 100);
  });

  it("measures listContainers with 10 containers", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await docker(["run", "-d", "-p", `${7100 + i}:80`, tb.image]));
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      const list = await client.listContainers();
      samples.push(performance.now() - t0);
      assert.equal(list.length, 10);
    }
    process.stdout.write(`  listContainers, 10 containers, direct socket: p50 ${ms(percentile(samples, 50))}, p90 ${ms(percentile(samples, 90))}, max ${ms(Math.max(...samples))}\n`);
    assert.ok(percentile(samples, 50) < 50);
    await docker(["rm", "-f", ...ids]);
  });
});
