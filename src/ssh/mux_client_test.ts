import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { frame } from "./_fake_mux_master.ts";
import { muxExchange } from "./mux_client.ts";
import { encodeAliveCheck, MUX_MSG_HELLO, MUX_S_ALIVE, MUX_S_OK, takeMessage } from "./mux_protocol.ts";

/** A master that collects `expect` requests after the hello, then answers them in reverse order with `reply`. */
async function withReversingMaster(expect: number, reply: (requestId: number) => Buffer, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-mux-client-"));
  const path = join(dir, "ctl");
  const server = createServer((sock) => {
    sock.write(frame(MUX_MSG_HELLO, 4));
    let buf: Uint8Array = new Uint8Array(0);
    const ids: number[] = [];
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (let m = takeMessage(buf); m; m = takeMessage(buf)) {
        buf = m.rest;
        const p = Buffer.from(m.payload);
        if (p.readUInt32BE(0) !== MUX_MSG_HELLO) ids.push(p.readUInt32BE(4));
      }
      if (ids.length === expect) sock.write(Buffer.concat(ids.reverse().map(reply)));
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    await fn(path);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("muxExchange", () => {
  it("matches each reply to its request by request id, whatever the order of the replies", async () => {
    await withReversingMaster(3, (id) => frame(MUX_S_ALIVE, id, 1000 + id), async (path) => {
      const { replies, broken } = await muxExchange(path, [encodeAliveCheck, encodeAliveCheck, encodeAliveCheck], 1000);
      assert.equal(broken, null);
      const ids = replies.map((r) => (r?.type === "alive" ? r.requestId : -1));
      assert.deepEqual(replies.map((r) => (r?.type === "alive" ? r.pid - r.requestId : -1)), [1000, 1000, 1000]);
      assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `request ids in the order of the requests: ${ids}`);
    });
  });

  it("ends the exchange as broken when the master answers a request id it was not asked", async () => {
    await withReversingMaster(1, (id) => frame(MUX_S_OK, id + 1), async (path) => {
      const { replies, broken } = await muxExchange(path, [encodeAliveCheck], 1000);
      assert.deepEqual(replies, [undefined]);
      assert.equal(broken?.kind, "gone");
      assert.match(broken?.reason ?? "", /unexpected answer/);
    });
  });
});
