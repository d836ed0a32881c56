// The API client against a hand-written Engine on a local unix socket: the
// hostile and broken answers a real dockerd never gives on demand. Deadlines,
// broken sockets and error bodies of the transport are tested in
// engine_http_test.ts; the real dockerd is exercised in
// test/integration/docker_client_test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { waitUntil } from "../_test_util.ts";
import { compareApiVersions, EngineClient, MAX_API_VERSION } from "./client.ts";
import type { DockerEvent } from "./schemas.ts";
import { fakeEngines, json } from "./_fake_engine.ts";

const engines = fakeEngines();
const fakeEngine = engines.start;

const version = (ApiVersion: string, MinAPIVersion = "1.12") =>
  json({ Version: "test", ApiVersion, MinAPIVersion, Os: "linux", Arch: "amd64", Unknown: { a: 1 } });
const event = (Action: string, ID = "c1") => JSON.stringify({ Type: "container", Action, Actor: { ID, Attributes: { name: "web" } }, time: 1, timeNano: 1 });

const records: LogRecord[] = [];
before(() => {
  configureSync({
    reset: true,
    sinks: { memory: (r: LogRecord) => void records.push(r) },
    loggers: [
      { category: ["rdhpf"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
});
after(() => {
  resetSync();
  engines.stop();
});
const warnings = (message: string) => records.filter((r) => r.level === "warning" && String(r.rawMessage) === message);

async function collect(it: AsyncIterable<DockerEvent>, n: number): Promise<DockerEvent[]> {
  const out: DockerEvent[] = [];
  for await (const e of it) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

describe("EngineClient.negotiate", () => {
  it("pins the API version the server offers", async () => {
    const client = new EngineClient({ socketPath: await fakeEngine({ "/version": version("1.43") }) });
    const info = await client.negotiate();
    assert.deepEqual(info, { serverVersion: "test", apiVersion: "1.43", os: "linux", arch: "amd64" });
    client.close();
  });

  it("caps the API version at the newest rdhpf speaks", async () => {
    const client = new EngineClient({ socketPath: await fakeEngine({ "/version": version("1.99") }) });
    assert.equal((await client.negotiate()).apiVersion, MAX_API_VERSION);
    client.close();
  });

  it("refuses an engine older than Docker 20.10 with exit status 2", async () => {
    const client = new EngineClient({ socketPath: await fakeEngine({ "/version": version("1.40") }) });
    await assert.rejects(client.negotiate(), (err: Error & { exitCode?: number; hint?: string }) => {
      assert.match(err.message, /API 1\.40.*needs API 1\.41/);
      assert.equal(err.exitCode, 2);
      assert.match(err.hint ?? "", /upgrade Docker/);
      return true;
    });
    client.close();
  });

  it("refuses an engine that no longer accepts any API version rdhpf speaks", async () => {
    const client = new EngineClient({ socketPath: await fakeEngine({ "/version": version("1.70", "1.60") }) });
    await assert.rejects(client.negotiate(), /requires Engine API 1\.60/);
    client.close();
  });

  it("falls back to the Api-Version header of /_ping when unversioned paths are refused", async () => {
    const client = new EngineClient({
      socketPath: await fakeEngine({
        "/version": json({ message: "unversioned API paths are not supported" }, 400),
        "/_ping": (_req, res) => {
          res.writeHead(200, { "Api-Version": "1.60" });
          res.end("OK");
        },
        [`/v${MAX_API_VERSION}/version`]: version("1.60", "1.44"),
      }),
    });
    assert.equal((await client.negotiate()).apiVersion, MAX_API_VERSION);
    client.close();
  });

  it("orders API versions numerically", () => {
    assert.ok(compareApiVersions("1.9", "1.41") < 0);
    assert.ok(compareApiVersions("1.41", "1.41") === 0);
    assert.ok(compareApiVersions("2.0", "1.99") > 0);
  });
});

describe("EngineClient requests", () => {
  it("skips a malformed container and warns once per container id", async () => {
    const good = { Id: "good", Names: ["/good"], Created: 1, Labels: null, Ports: [{ IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" }] };
    const bad = { Id: "bad", Names: ["/bad"], Created: "yesterday" };
    const client = new EngineClient({
      socketPath: await fakeEngine({ "/version": version("1.41"), "/v1.41/containers/json": json([bad, good, { no: "id" }]) }),
    });
    const before = warnings("Skipping malformed container in the Engine API list").length;
    for (let i = 0; i < 3; i++) assert.deepEqual((await client.listContainers()).map((c) => c.name), ["good"]);
    const logged = warnings("Skipping malformed container in the Engine API list").slice(before);
    assert.deepEqual(logged.map((r) => r.properties.container_id), ["bad", "(no id)"]);
    client.close();
  });

  it("answers null for a container that does not exist or is not running", async () => {
    const client = new EngineClient({
      socketPath: await fakeEngine({
        "/version": version("1.41"),
        "/v1.41/containers/stopped/json": json({ Id: "stopped", Name: "/stopped", State: { Running: false }, NetworkSettings: { Ports: {} } }),
      }),
    });
    assert.equal(await client.inspectContainer("gone"), null);
    assert.equal(await client.inspectContainer("stopped"), null);
    assert.equal(await client.inspectContainer("../version"), null);
    client.close();
  });
});

describe("EngineClient.events", () => {
  it("reassembles events split across chunks and skips malformed, invalid and huge lines with one warning each", async () => {
    const start = event("start");
    const socketPath = await fakeEngine({
      "/version": version("1.41"),
      "/v1.41/events": (_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.write(start.slice(0, 10));
        setTimeout(() => {
          res.write(`${start.slice(10)}\n{"Type":"contai`);
          res.write(`ner", garbage\n`);
          res.write(`{"Type":"container"}\n`);
          res.write(`{"pad":"${"x".repeat(3000)}"}\n`);
          res.write(`${event("die")}\n`);
        }, 20);
      },
    });
    const client = new EngineClient({ socketPath, maxEventLineBytes: 2048 });
    const before = records.length;
    const ac = new AbortController();
    const got = await collect(client.events({ signal: ac.signal }), 2);
    assert.deepEqual(got.map((e) => e.Action), ["start", "die"]);
    const logged = records.slice(before).filter((r) => r.level === "warning").map((r) => String(r.rawMessage));
    assert.deepEqual(logged, ["Skipping malformed Docker event line", "Skipping invalid Docker event", "Skipping oversized Docker event line"]);
    client.close();
  });

  it("asks for container events only, since the given time", async () => {
    let url = "";
    const socketPath = await fakeEngine({
      "/version": version("1.41"),
      "/v1.41/events": (req, res) => {
        url = req.url ?? "";
        res.writeHead(200);
        res.end();
      },
    });
    const client = new EngineClient({ socketPath });
    await collect(client.events({ signal: new AbortController().signal, since: 1795805520.5 }), 1);
    const params = new URL(url, "http://docker").searchParams;
    assert.deepEqual(JSON.parse(params.get("filters") ?? ""), { type: ["container"] });
    assert.equal(params.get("since"), "1795805520.500000000");
    client.close();
  });

  it("calls onOpen once the headers arrived, before any event", async () => {
    const order: string[] = [];
    const socketPath = await fakeEngine({
      "/version": version("1.41"),
      "/v1.41/events": (_req, res) => {
        res.writeHead(200);
        res.flushHeaders();
        setTimeout(() => res.end(`${event("start")}\n`), 50);
      },
    });
    const client = new EngineClient({ socketPath });
    for await (const e of client.events({ signal: new AbortController().signal, onOpen: () => order.push("open") })) order.push(e.Action ?? "");
    assert.deepEqual(order, ["open", "start"]);
    client.close();
  });

  it("throws when the stream cannot be opened", async () => {
    const socketPath = await fakeEngine({ "/version": version("1.41"), "/v1.41/events": json({ message: "invalid filter" }, 400) });
    const client = new EngineClient({ socketPath });
    await assert.rejects(collect(client.events({ signal: new AbortController().signal }), 1), /HTTP 400: invalid filter/);
    client.close();
  });

  it("returns promptly when the signal aborts an idle stream", async () => {
    let closed = false;
    const socketPath = await fakeEngine({
      "/version": version("1.41"),
      "/v1.41/events": (req, res) => {
        res.writeHead(200);
        res.flushHeaders();
        req.socket.on("close", () => (closed = true));
      },
    });
    const client = new EngineClient({ socketPath });
    const ac = new AbortController();
    let open = false;
    const collecting = collect(client.events({ signal: ac.signal, onOpen: () => (open = true) }), 1);
    await waitUntil(() => open, 2_000, "the event stream to open");
    const started = performance.now();
    ac.abort();
    assert.deepEqual(await collecting, []);
    assert.ok(performance.now() - started < 500);
    await waitUntil(() => closed, 2_000, "the server to see the connection close");
    client.close();
  });

  it("returns when the Engine closes the stream", async () => {
    const socketPath = await fakeEngine({
      "/version": version("1.41"),
      "/v1.41/events": (_req, res) => {
        res.writeHead(200);
        res.write(`${event("start")}\n`);
        setTimeout(() => res.socket?.destroy(), 50);
      },
    });
    const client = new EngineClient({ socketPath });
    const got = await collect(client.events({ signal: new AbortController().signal }), 5);
    assert.deepEqual(got.map((e) => e.Action), ["start"]);
    client.close();
  });
});
