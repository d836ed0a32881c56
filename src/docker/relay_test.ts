import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDialStdioRelay } from "./relay.ts";

/** A relay whose bridges are local `cat` processes: each connection echoes what it sends. */
async function catRelay(opts: { maxBridges: number; queueWaitMs?: number; refuseFirst?: number }) {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-relay-"));
  const socketPath = join(dir, "relay.sock");
  let spawned = 0;
  const relay = await startDialStdioRelay({
    socketPath, maxBridges: opts.maxBridges, queueWaitMs: opts.queueWaitMs,
    spawnBridge: () => {
      spawned++;
      // What ssh's mux client says when sshd is at MaxSessions.
      if (spawned <= (opts.refuseFirst ?? 0)) {
        return spawn("sh", ["-c", "echo 'mux_client_request_session: session request failed: Session open refused by peer' >&2; exit 255"], { stdio: ["pipe", "pipe", "pipe"] });
      }
      return spawn("cat", [], { stdio: ["pipe", "pipe", "pipe"] });
    },
  });
  return {
    relay, socketPath, spawned: () => spawned,
    async cleanup() {
      await relay.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A client that sends `text` and collects what comes back until the relay closes it. */
function client(socketPath: string, text: string) {
  const s = net.createConnection({ path: socketPath });
  let got = "";
  s.on("data", (c: Buffer) => (got += c));
  s.on("error", () => undefined);
  s.write(text);
  const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
  return { socket: s, got: () => got, closed };
}

async function until(what: string, ok: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the dial-stdio relay's session limit", () => {
  it("runs at most maxBridges bridges and queues the rest, serving them first come, first served", async () => {
    const t = await catRelay({ maxBridges: 2 });
    try {
      const clients = ["a", "b", "c", "d", "e"].map((x) => client(t.socketPath, x));
      await until("two echoes", () => clients[0]!.got() === "a" && clients[1]!.got() === "b");
      await until("three queued", () => t.relay.counts().queued === 3);
      assert.deepEqual(t.relay.counts(), { active: 2, queued: 3, limit: 2 });
      assert.equal(t.spawned(), 2);
      assert.deepEqual(clients.slice(2).map((c) => c.got()), ["", "", ""], "a queued connection gets no bridge yet");

      clients[0]!.socket.end();
      await until("c bridged in a's place", () => clients[2]!.got() === "c");
      assert.equal(clients[3]!.got(), "", "d still waits: FIFO");
      for (const c of clients.slice(1, 4)) c.socket.end();
      await until("e bridged", () => clients[4]!.got() === "e");
      assert.ok(t.relay.counts().active <= 2);
      clients[4]!.socket.end();
      await until("all bridges ended", () => t.relay.counts().active === 0);
      assert.equal(t.spawned(), 5);
    } finally {
      await t.cleanup();
    }
  });

  it("closes a connection that waited longer than queueWaitMs, and forgets it", async () => {
    const t = await catRelay({ maxBridges: 1, queueWaitMs: 150 });
    try {
      const first = client(t.socketPath, "first");
      await until("the first echo", () => first.got() === "first");
      const started = Date.now();
      const second = client(t.socketPath, "second");
      await second.closed;
      const waited = Date.now() - started;
      assert.ok(waited >= 140 && waited < 2000, `closed after ${waited} ms`);
      assert.equal(second.got(), "");
      assert.deepEqual(t.relay.counts(), { active: 1, queued: 0, limit: 1 });
      assert.equal(t.spawned(), 1);
    } finally {
      await t.cleanup();
    }
  });

  it("passes on what a queued client sent, and its half-close, once a bridge is free", async () => {
    const t = await catRelay({ maxBridges: 1 });
    try {
      const first = client(t.socketPath, "x");
      await until("the first echo", () => first.got() === "x");
      const queued = client(t.socketPath, "request while queued");
      queued.socket.end(); // FIN: nothing more to send, the answer is still wanted
      await until("one queued", () => t.relay.counts().queued === 1);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(t.relay.counts().queued, 1, "a half-closed client stays in the queue");
      first.socket.end();
      await queued.closed;
      assert.equal(queued.got(), "request while queued", "cat saw the bytes and the EOF, and its answer came back");
    } finally {
      await t.cleanup();
    }
  });

  it("bridges a connection again, with the bytes it sent, when sshd refused the session", async () => {
    const t = await catRelay({ maxBridges: 2, refuseFirst: 3 });
    try {
      const c = client(t.socketPath, "GET /_ping HTTP/1.1\r\n\r\n");
      await until("the echo through the fourth bridge", () => c.got() === "GET /_ping HTTP/1.1\r\n\r\n");
      assert.equal(t.spawned(), 4);
      c.socket.write("more");
      await until("later bytes too", () => c.got().endsWith("more"));
      assert.equal(c.got(), "GET /_ping HTTP/1.1\r\n\r\nmore", "nothing sent twice");
    } finally {
      await t.cleanup();
    }
  });

  it("gives up retrying refused sessions at the connection's deadline", async () => {
    const t = await catRelay({ maxBridges: 1, queueWaitMs: 400, refuseFirst: 1_000_000 });
    try {
      const started = Date.now();
      const c = client(t.socketPath, "x");
      await c.closed;
      const waited = Date.now() - started;
      assert.ok(waited >= 350 && waited < 3000, `closed after ${waited} ms`);
      assert.ok(t.spawned() >= 2 && t.spawned() < 20, `${t.spawned()} tries`);
    } finally {
      await t.cleanup();
    }
  });
});
