import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { isLocalPortFree } from "./port_probe.ts";

function listen(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(port, host, () => resolve(s));
  });
}

describe("isLocalPortFree", () => {
  it("finds a port someone listens on busy, and free again after", async () => {
    const server = await listen(0, "127.0.0.1");
    const port = (server.address() as { port: number }).port;
    assert.equal(await isLocalPortFree(port, ["127.0.0.1"]), false);
    await new Promise((r) => server.close(r));
    assert.equal(await isLocalPortFree(port, ["127.0.0.1"]), true);
  });

  it("finds a port busy when only one of the bind addresses is taken", async () => {
    const server = await listen(0, "127.0.0.1");
    const port = (server.address() as { port: number }).port;
    try {
      assert.equal(await isLocalPortFree(port, ["::1", "127.0.0.1"]).catch(() => false), false);
    } finally {
      server.close();
    }
  });
});
