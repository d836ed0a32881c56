import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeMaster } from "./mux_probe.ts";
import { decodeMessage, MUX_MSG_HELLO, MUX_S_ALIVE, MUX_S_FAILURE, takeMessage } from "./mux_protocol.ts";

function frame(...words: number[]): Buffer {
  const b = Buffer.alloc(4 + words.length * 4);
  b.writeUInt32BE(words.length * 4, 0);
  words.forEach((w, i) => b.writeUInt32BE(w, 4 + i * 4));
  return b;
}

/** A control socket served by `onClient`, for the length of `fn`. */
async function withSocket(onClient: (sock: Socket) => void, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-mux-probe-"));
  const path = join(dir, "ctl");
  const clients: Socket[] = [];
  const server = createServer((sock) => {
    clients.push(sock);
    onClient(sock);
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    await fn(path);
  } finally {
    for (const c of clients) c.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Behaves like an OpenSSH master: hello first, then answers the alive check after the client's hello. */
function master(pid: number, version = 4, answer: "alive" | "failure" = "alive") {
  return (sock: Socket) => {
    sock.write(frame(MUX_MSG_HELLO, version));
    let buf: Uint8Array = new Uint8Array(0);
    let sawHello = false;
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (let m = takeMessage(buf); m; m = takeMessage(buf)) {
        buf = m.rest;
        const msg = decodeMessage(m.payload);
        if (msg.type === "hello") {
          sawHello = true;
          continue;
        }
        const requestId = Buffer.from(m.payload).readUInt32BE(4);
        if (!sawHello) return sock.destroy(); // the master drops a client that skips its hello
        if (answer === "alive") sock.write(frame(MUX_S_ALIVE, requestId, pid));
        else sock.write(Buffer.concat([frame(MUX_S_FAILURE, requestId, 3), Buffer.from("bad")]).fill(Buffer.from([0, 0, 0, 15]), 0, 4));
      }
    });
  };
}

describe("probeMaster", () => {
  it("reports the master's pid after hello and alive check", async () => {
    await withSocket(master(4242), async (path) => {
      assert.deepEqual(await probeMaster(path, 1000), { alive: true, pid: 4242 });
    });
  });

  it("treats a master that accepts but never answers as dead within the deadline", async () => {
    await withSocket(() => {}, async (path) => {
      const t0 = performance.now();
      const r = await probeMaster(path, 200);
      assert.equal(r.alive, false);
      assert.match(!r.alive ? r.reason : "", /no answer .* within 200 ms/);
      assert.ok(performance.now() - t0 < 1000);
    });
  });

  it("refuses a master of another protocol version", async () => {
    await withSocket(master(1, 3), async (path) => {
      const r = await probeMaster(path, 1000);
      assert.equal(r.alive, false);
      assert.match(!r.alive ? r.reason : "", /protocol 3/);
    });
  });

  it("reports a socket that speaks something else", async () => {
    await withSocket((sock) => sock.write("HTTP/1.1 400 Bad Request\r\n\r\n"), async (path) => {
      const r = await probeMaster(path, 1000);
      assert.equal(r.alive, false);
      assert.match(!r.alive ? r.reason : "", /not a mux answer/);
    });
  });

  it("reports a master that refuses the alive check, with its reason", async () => {
    await withSocket(master(1, 4, "failure"), async (path) => {
      const r = await probeMaster(path, 1000);
      assert.equal(r.alive, false);
      assert.match(!r.alive ? r.reason : "", /refused the alive check: bad/);
    });
  });

  it("reports a master that closes the connection", async () => {
    await withSocket((sock) => sock.end(), async (path) => {
      assert.equal((await probeMaster(path, 1000)).alive, false);
    });
  });

  it("reports a missing control socket without throwing", async () => {
    const r = await probeMaster(join(tmpdir(), "rdhpf-no-such-dir", "ctl"), 1000);
    assert.equal(r.alive, false);
    assert.match(!r.alive ? r.reason : "", /cannot reach the control socket/);
  });
});
