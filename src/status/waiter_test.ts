import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sampleDocument } from "./_sample_document.ts";
import { startStatusServer, type StatusServer } from "./_status_server.ts";
import { instanceFilesForKey, type InstanceSelection } from "./client.ts";
import type { WaitRequest } from "./readiness.ts";
import type { ForwardStatus, StatusDocument } from "./schema.ts";
import { waitUntilReady } from "./waiter.ts";

let root: string;
let servicePort: number;
let service: Server;
const sockets = new Set<Socket>();
const statusServers: StatusServer[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), "rdhpf-wait-test-"));
  // The local end of a working forward: accepts and keeps the connection open.
  service = createServer((c) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
  });
  await new Promise<void>((r) => service.listen(0, "127.0.0.1", r));
  servicePort = (service.address() as { port: number }).port;
});
after(async () => {
  for (const s of statusServers) await s.close();
  for (const c of sockets) c.destroy();
  await new Promise((r) => service.close(r));
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function freshDir(): string {
  return mkdtempSync(join(root, `d${n++}-`));
}

function docWith(port: number, over: Partial<ForwardStatus> = {}, doc: StatusDocument = sampleDocument()): StatusDocument {
  const base = doc.forwards[0]!;
  return { ...doc, forwards: [{ ...base, container_name: "db", local_port: port, remote_port: 5432, since: new Date().toISOString(), ...over }], history: [] };
}

async function serve(dir: string, key: string, doc: StatusDocument): Promise<StatusServer> {
  const s = await startStatusServer(instanceFilesForKey(dir, key).controlApiSocket, doc);
  statusServers.push(s);
  return s;
}

function io() {
  const out = { stdout: "", stderr: "" };
  return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } } };
}

const hostSel = (dir: string, key: string): InstanceSelection => ({ dir, host: { target: "ssh://test-host", files: instanceFilesForKey(dir, key) } });
const req = (over: Partial<WaitRequest>): WaitRequest => ({ ports: [], containers: [], all: false, ...over });

describe("waitUntilReady", () => {
  it("returns 0 as soon as the forward is active and a connection through it holds", async () => {
    const dir = freshDir();
    const daemon = await serve(dir, "k1", docWith(servicePort, { state: "pending", reason: "being added" }));
    setTimeout(() => (daemon.doc = docWith(servicePort)), 300);
    const { out, io: sink } = io();
    const t0 = performance.now();
    const code = await waitUntilReady({ selection: hostSel(dir, "k1"), request: req({ ports: [servicePort] }), timeoutMs: 5000, io: sink });
    const ms = performance.now() - t0;
    assert.equal(code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`^rdhpf wait: ready after \\d+ ms: 127\\.0\\.0\\.1:${servicePort} \\(db\\)\\n$`));
    // 300 ms until active + the probe's 200 ms hold + polling slack.
    assert.ok(ms >= 480 && ms < 1500, `took ${ms} ms`);
  });

  it("times out with exit 1 naming a conflict and its reason", async () => {
    const dir = freshDir();
    await serve(dir, "k2", docWith(servicePort, { state: "conflict", reason: "local port is in use by nginx (pid 99)" }));
    const { out, io: sink } = io();
    const code = await waitUntilReady({ selection: hostSel(dir, "k2"), request: req({ ports: [servicePort], containers: ["ghost"] }), timeoutMs: 300, io: sink });
    assert.equal(code, 1);
    assert.match(out.stderr, /^rdhpf wait: timed out after 300 ms; still missing:\n/);
    assert.match(out.stderr, new RegExp(`port ${servicePort} \\(db\\): conflict: local port is in use by nginx \\(pid 99\\)`));
    assert.match(out.stderr, /container ghost: no running container of that name publishes a port/);
  });

  it("says nothing listens when the forward is reported active but the local port is closed", async () => {
    const dir = freshDir();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    await serve(dir, "k3", docWith(port));
    const { out, io: sink } = io();
    assert.equal(await waitUntilReady({ selection: hostSel(dir, "k3"), request: req({ ports: [port] }), timeoutMs: 300, io: sink }), 1);
    assert.match(out.stderr, new RegExp(`connection through the tunnel failed: nothing listens on 127\\.0\\.0\\.1:${port}`));
  });

  it("reports that rdhpf is not running when nothing answers", async () => {
    const dir = freshDir();
    const { out, io: sink } = io();
    assert.equal(await waitUntilReady({ selection: hostSel(dir, "k4"), request: req({ all: true }), timeoutMs: 200, io: sink }), 1);
    assert.match(out.stderr, /rdhpf is not running for ssh:\/\/test-host/);
  });

  it("waits for an rdhpf that starts after it", async () => {
    const dir = freshDir();
    setTimeout(() => void serve(dir, "k5", docWith(servicePort)), 250);
    const { out, io: sink } = io();
    assert.equal(await waitUntilReady({ selection: hostSel(dir, "k5"), request: req({ all: true }), timeoutMs: 5000, io: sink }), 0, out.stderr);
  });

  it("uses the one running instance when no --host is given", async () => {
    const dir = freshDir();
    await serve(dir, "k6", docWith(servicePort));
    const { out, io: sink } = io();
    assert.equal(await waitUntilReady({ selection: { dir, host: null }, request: req({ containers: ["db"] }), timeoutMs: 3000, io: sink }), 0, out.stderr);
  });

  it("exits 2 asking for --host when several instances run", async () => {
    const dir = freshDir();
    await serve(dir, "k7", { ...docWith(servicePort), host: "ssh://one" });
    await serve(dir, "k8", { ...docWith(servicePort), host: "ssh://two" });
    const { out, io: sink } = io();
    assert.equal(await waitUntilReady({ selection: { dir, host: null }, request: req({ all: true }), timeoutMs: 3000, io: sink }), 2);
    assert.match(out.stderr, /several rdhpf instances are running \(ssh:\/\/one, ssh:\/\/two\): choose one with --host/);
  });

  it("with --timeout 0, checks once and still succeeds when everything is ready", async () => {
    const dir = freshDir();
    await serve(dir, "k9", docWith(servicePort));
    const { out, io: sink } = io();
    assert.equal(await waitUntilReady({ selection: hostSel(dir, "k9"), request: req({ ports: [servicePort] }), timeoutMs: 0, io: sink }), 0, out.stderr);
  });
});
