import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { RdhpfError } from "../errors.ts";
import { sampleDocument } from "../status/_sample_document.ts";
import type { StatusDocument } from "../status/mod.ts";
import { isLoopback, type MetricsServer, startMetricsServer } from "./metrics_server.ts";

describe("the metrics endpoint", () => {
  let doc: StatusDocument = sampleDocument();
  let server: MetricsServer;
  let base: string;
  before(async () => {
    server = await startMetricsServer({ host: "127.0.0.1", port: 0 }, () => doc);
    base = `http://127.0.0.1:${server.address.port}`;
  });
  after(() => server.close());

  it("serves Prometheus text 0.0.4 to a client that does not ask for OpenMetrics", async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const body = await res.text();
    assert.match(body, /^# TYPE rdhpf_ssh_connections_opened_total counter$/m);
    assert.doesNotMatch(body, /# EOF/);
  });

  it("serves OpenMetrics when the Accept header asks for it", async () => {
    const res = await fetch(`${base}/metrics`, { headers: { accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5" } });
    assert.equal(res.headers.get("content-type"), "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert.match(await res.text(), /^# TYPE rdhpf_build info\n[\s\S]*# EOF\n$/m);
  });

  it("answers /healthz 200 ok when connected without conflict, 503 with the reason otherwise", async () => {
    doc = { ...sampleDocument(), forwards: sampleDocument().forwards.filter((f) => f.state !== "conflict") };
    let res = await fetch(`${base}/healthz`);
    assert.deepEqual([res.status, await res.text()], [200, "ok\n"]);
    doc = { ...sampleDocument(), state: "degraded" };
    res = await fetch(`${base}/healthz`);
    assert.deepEqual([res.status, await res.text()], [503, "1 forward(s) in conflict, on local port(s) 5432\n"]);
  });

  it("answers 404 naming the two paths, and 405 to a POST", async () => {
    const res = await fetch(`${base}/status`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /GET \/metrics or GET \/healthz/);
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.text();
  });

  it("refuses a header over 8 KB at once", async () => {
    const answer = await new Promise<string>((resolve) => {
      let out = "";
      const c = connect(server.address.port, "127.0.0.1", () => c.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(32 * 1024)}\r\n\r\n`));
      c.on("data", (d) => (out += d));
      c.on("close", () => resolve(out));
      c.on("error", () => {});
    });
    assert.match(answer, /^HTTP\/1\.1 4(00|31) /);
  });

  it("drops a client that sends an endless header, and still answers the next one", async () => {
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const s = connect(server.address.port, "127.0.0.1", () => {
        s.write("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Long: ");
        const timer = setInterval(() => s.writable && s.write("a".repeat(1024)), 20);
        s.on("close", () => {
          clearInterval(timer);
          resolve();
        });
      });
      s.on("error", () => {});
    });
    assert.ok(Date.now() - started < 5000, `dropped after ${Date.now() - started} ms`);
    assert.equal((await fetch(`${base}/healthz`)).status, 503);
  });

  it("refuses a port in use with a usage error naming --metrics-listen", async () => {
    await assert.rejects(startMetricsServer({ host: "127.0.0.1", port: server.address.port }, () => doc), (err: unknown) =>
      err instanceof RdhpfError && err.exitCode === 2 && /--metrics-listen 127\.0\.0\.1:\d+: the port is already in use/.test(err.message));
  });
});

describe("isLoopback", () => {
  const cases: [string, boolean][] = [["127.0.0.1", true], ["127.1.2.3", true], ["::1", true], ["0.0.0.0", false], ["::", false], ["10.0.0.1", false]];
  for (const [host, want] of cases) it(`${host}: ${want}`, () => assert.equal(isLoopback(host), want));
});

// A plain TCP listener of another program holds the port just the same.
describe("a port held by another process", () => {
  it("is reported as in use", async () => {
    const other = createServer();
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", () => r()));
    const port = (other.address() as { port: number }).port;
    try {
      await assert.rejects(startMetricsServer({ host: "127.0.0.1", port }, () => sampleDocument()), /already in use/);
    } finally {
      other.close();
    }
  });
});
