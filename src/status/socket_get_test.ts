import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getOnSocket } from "./socket_get.ts";

// Under Bun this exercises the fetch path, under Deno the node:http one.
let dir: string;
const servers: Server[] = [];
const sockets = new Set<Socket>();

before(() => {
  dir = mkdtempSync(join(tmpdir(), "rdhpf-socket-get-test-"));
});
after(async () => {
  for (const c of sockets) c.destroy();
  for (const s of servers) await new Promise((r) => s.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function serve(name: string, handler: RequestListener): Promise<string> {
  const path = join(dir, name);
  const server = createServer(handler);
  servers.push(server);
  server.on("connection", (c: Socket) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return path;
}

const opts = { accept: "application/json", timeoutMs: 500, maxBytes: 1024 };

describe("getOnSocket", () => {
  it("returns the status and body, and sends the path and Accept header", async () => {
    const path = await serve("ok.sock", (req, res) => res.writeHead(200).end(`${req.url} ${req.headers.accept}`));
    const r = await getOnSocket(path, "/status", opts);
    assert.equal(r.kind, "answer");
    if (r.kind !== "answer") return;
    assert.equal(r.status, 200);
    assert.equal(new TextDecoder().decode(r.body), "/status application/json");
  });

  it("returns an HTTP error status as an answer (the caller decides)", async () => {
    const path = await serve("err.sock", (_req, res) => res.writeHead(503).end("busy"));
    const r = await getOnSocket(path, "/status", opts);
    assert.equal(r.kind === "answer" && r.status, 503);
  });

  it("gives up at the timeout on a server that never answers", async () => {
    const path = await serve("silent.sock", () => {});
    const started = performance.now();
    const r = await getOnSocket(path, "/status", { ...opts, timeoutMs: 100 });
    assert.deepEqual(r, { kind: "none", why: "no answer within 100 ms" });
    assert.ok(performance.now() - started < 400, "returned well after the timeout");
  });

  it("gives up on a body larger than maxBytes", async () => {
    const path = await serve("big.sock", (_req, res) => res.writeHead(200).end("x".repeat(4096)));
    const r = await getOnSocket(path, "/status", opts);
    assert.deepEqual(r, { kind: "none", why: "answer larger than 1024 bytes" });
  });

  it("says none when no socket exists", async () => {
    const r = await getOnSocket(join(dir, "missing.sock"), "/status", opts);
    assert.equal(r.kind, "none");
  });
});
