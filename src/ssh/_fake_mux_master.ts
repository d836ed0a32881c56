/**
 * A stand-in for an OpenSSH master's control socket in unit tests: sends
 * its hello, reads the client's, and answers each forward request as
 * `answer` says (or not at all). Reads requests as mux.c does; only what
 * rdhpf sends.
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MUX_C_CLOSE_FWD, MUX_C_OPEN_FWD, MUX_MSG_HELLO, MUX_S_FAILURE, MUX_S_OK, type MuxForward, takeMessage } from "./mux_protocol.ts";

/** A forward request as the master read it. */
export interface SeenRequest {
  op: "open" | "close";
  requestId: number;
  forward: MuxForward;
  /** The whole message as received, length prefix included. */
  bytes: Buffer;
}

/** How the fake answers one request: OK, a failure with a reason, no answer, or closing the connection. */
export type FakeAnswer = { ok: true } | { failure: string } | "silence" | "close";

/** Builds a message from uint32s and strings, as the master does. */
export function frame(type: number, ...fields: Array<number | string>): Buffer {
  const body = Buffer.concat(fields.map((f) => {
    if (typeof f === "number") {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(f >>> 0);
      return b;
    }
    const s = Buffer.from(f);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(s.length);
    return Buffer.concat([len, s]);
  }));
  const head = Buffer.alloc(8);
  head.writeUInt32BE(4 + body.length, 0);
  head.writeUInt32BE(type, 4);
  return Buffer.concat([head, body]);
}

function frameLength(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Reads an MUX_C_OPEN_FWD / MUX_C_CLOSE_FWD payload. */
export function readForwardRequest(payload: Uint8Array): Omit<SeenRequest, "bytes"> {
  const b = Buffer.from(payload);
  let o = 0;
  const u32 = () => ((o += 4), b.readUInt32BE(o - 4));
  const str = () => {
    const n = u32();
    o += n;
    return b.subarray(o - n, o).toString();
  };
  const type = u32();
  const requestId = u32();
  const ftype = u32();
  if (ftype !== 1) throw new Error(`forward type ${ftype}`);
  const forward = { listenHost: str(), listenPort: u32(), connectHost: str(), connectPort: u32() };
  if (o !== b.length) throw new Error("trailing bytes in a forward request");
  return { op: type === MUX_C_OPEN_FWD ? "open" : "close", requestId, forward };
}

/** A fake master listening on a socket in a temporary directory. */
export interface FakeMaster {
  path: string;
  /** Every request seen, in order; and the number of connections. */
  seen: SeenRequest[];
  connections: number;
  close(): Promise<void>;
}

export async function startFakeMaster(answer: (r: SeenRequest) => FakeAnswer): Promise<FakeMaster> {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-fake-master-"));
  const path = join(dir, "ctl");
  const clients: Socket[] = [];
  const fake: FakeMaster = {
    path,
    seen: [],
    connections: 0,
    close: async () => {
      for (const c of clients) c.destroy();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const server = createServer((sock) => {
    clients.push(sock);
    fake.connections++;
    sock.write(frame(MUX_MSG_HELLO, 4));
    let buf: Uint8Array = new Uint8Array(0);
    let sawHello = false;
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (let m = takeMessage(buf); m; m = takeMessage(buf)) {
        buf = m.rest;
        const type = Buffer.from(m.payload).readUInt32BE(0);
        if (!sawHello) {
          if (type !== MUX_MSG_HELLO) return sock.destroy();
          sawHello = true;
          continue;
        }
        if (type !== MUX_C_OPEN_FWD && type !== MUX_C_CLOSE_FWD) return sock.destroy();
        const req = { ...readForwardRequest(m.payload), bytes: Buffer.concat([frameLength(m.payload.length), m.payload]) };
        fake.seen.push(req);
        const a = answer(req);
        if (a === "close") return sock.destroy();
        if (a === "silence") continue;
        sock.write("ok" in a ? frame(MUX_S_OK, req.requestId) : frame(MUX_S_FAILURE, req.requestId, a.failure));
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return fake;
}
