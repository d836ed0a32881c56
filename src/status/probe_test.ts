import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { probeThroughTunnel } from "./probe.ts";

const servers: Server[] = [];
const sockets = new Set<Socket>();

after(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) await new Promise((r) => s.close(r));
});

/** A real TCP server on 127.0.0.1 with the given behaviour; resolves to its port. */
async function server(onConnection: (c: Socket) => void): Promise<number> {
  const s = createServer((c) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
    c.on("error", () => {});
    onConnection(c);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return (s.address() as { port: number }).port;
}

/** A port nothing listens on: bind one, close it. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("probeThroughTunnel", () => {
  it("counts a connection that stays open for the hold", async () => {
    const port = await server(() => {});
    const t0 = performance.now();
    assert.deepEqual(await probeThroughTunnel("127.0.0.1", port, { holdMs: 100 }), { ok: true });
    assert.ok(performance.now() - t0 >= 95);
  });

  it("counts a server banner at once, without waiting for the hold", async () => {
    const port = await server((c) => c.write("220 ready\r\n"));
    const t0 = performance.now();
    assert.deepEqual(await probeThroughTunnel("127.0.0.1", port, { holdMs: 5000 }), { ok: true });
    assert.ok(performance.now() - t0 < 1000);
  });

  it("fails when the connection is closed at once, as ssh does when the remote end refuses", async () => {
    const port = await server((c) => c.end());
    const outcome = await probeThroughTunnel("127.0.0.1", port, { holdMs: 300 });
    assert.equal(outcome.ok, false);
    assert.match(!outcome.ok ? outcome.reason : "", /closed the connection/);
  });

  it("fails with 'nothing listens' when the port is closed", async () => {
    const port = await freePort();
    const outcome = await probeThroughTunnel("127.0.0.1", port);
    assert.deepEqual(outcome, { ok: false, reason: `nothing listens on 127.0.0.1:${port}` });
  });
});
