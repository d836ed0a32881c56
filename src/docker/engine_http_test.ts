// The transport against a hand-written Engine on a local unix socket:
// deadlines, broken sockets, oversized bodies and error bodies a real dockerd
// never produces on demand. The API on top is tested in client_test.ts.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { EngineApiError } from "./engine_errors.ts";
import { EngineHttp } from "./engine_http.ts";
import { fakeEngines, json } from "./_fake_engine.ts";

const engines = fakeEngines();
after(() => engines.stop());

describe("EngineHttp.request", () => {
  it("reports an HTTP error with socket, path, status and a clean excerpt of the body", async () => {
    const path = "/v1.41/containers/json";
    const socketPath = await engines.start({ [path]: json({ message: "boom\u001b[31m\nsecond line" }, 500) });
    const engine = new EngineHttp({ socketPath });
    const res = await engine.request("GET", path);
    assert.throws(() => engine.expectOk("GET", path, res), (err: unknown) => {
      assert.ok(err instanceof EngineApiError);
      assert.equal(err.kind, "http");
      assert.equal(err.status, 500);
      assert.ok(err.message.includes(socketPath) && err.message.includes("/v1.41/containers/json"));
      assert.match(err.message, /HTTP 500: boom \[31m second line$/);
      assert.match(err.hint ?? "", /journalctl -u docker/);
      return true;
    });
    engine.close();
  });

  it("times out a request that never answers", async () => {
    const engine = new EngineHttp({ socketPath: await engines.start({ "/_ping": () => {} }), requestTimeoutMs: 200 });
    const started = performance.now();
    await assert.rejects(engine.request("GET", "/_ping"), (err: unknown) => err instanceof EngineApiError && err.kind === "timeout" && /no answer within 200 ms/.test(err.message));
    assert.ok(performance.now() - started < 1000);
    engine.close();
  });

  it("reports a missing socket as a connection error with a hint", async () => {
    const engine = new EngineHttp({ socketPath: join(engines.dir, "missing.sock") });
    await assert.rejects(engine.request("GET", "/_ping"), (err: unknown) => {
      assert.ok(err instanceof EngineApiError);
      assert.equal(err.kind, "connection");
      assert.match(err.message, /missing\.sock.*ENOENT/);
      assert.match(err.hint ?? "", /forwarded/);
      return true;
    });
    engine.close();
  });

  it("refuses a body larger than the cap", async () => {
    const engine = new EngineHttp({
      socketPath: await engines.start({ "/v1.41/containers/json": json([{ Id: "x".repeat(5000) }]) }),
      maxBodyBytes: 1000,
    });
    await assert.rejects(engine.request("GET", "/v1.41/containers/json"), (err: unknown) => err instanceof EngineApiError && err.kind === "payload");
    engine.close();
  });

  it("repeats a request once when the pooled connection it reused is gone", async () => {
    // The second request on a kept-alive connection finds it dead, as when
    // the Engine closed it while idle; a new connection answers.
    const requestsPerSocket = new Map<unknown, number>();
    let connections = 0;
    const socketPath = await engines.start({
      "/_ping": (req, res) => {
        const seen = (requestsPerSocket.get(req.socket) ?? 0) + 1;
        requestsPerSocket.set(req.socket, seen);
        if (seen === 1) connections++;
        if (seen > 1) return void req.socket.destroy();
        res.writeHead(200);
        res.end("OK");
      },
    });
    const engine = new EngineHttp({ socketPath });
    assert.equal((await engine.request("GET", "/_ping")).status, 200);
    assert.equal((await engine.request("GET", "/_ping")).status, 200);
    assert.equal(connections, 2, "the repeat went over a new connection");
    engine.close();
  });

  it("refuses requests after close()", async () => {
    const engine = new EngineHttp({ socketPath: await engines.start({ "/_ping": json({}) }) });
    engine.close();
    await assert.rejects(engine.request("GET", "/_ping"), /client closed/);
  });
});
