import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { tryListen } from "./listens.ts";

describe("tryListen", () => {
  it("succeeds on a free port and leaves it free", async () => {
    assert.equal(await tryListen(0, "127.0.0.1"), null);
  });

  it("reports EADDRINUSE for a port something holds", async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    try {
      const port = (holder.address() as { port: number }).port;
      assert.equal((await tryListen(port, "127.0.0.1"))?.code, "EADDRINUSE");
    } finally {
      holder.close();
    }
  });

  it("reports an address this machine does not have", async () => {
    // 192.0.2.0/24 is TEST-NET-1: never a local address; nothing is sent.
    // Node and Bun say EADDRNOTAVAIL, Deno's node layer EINVAL: either way, an error and not null.
    const err = await tryListen(0, "192.0.2.1");
    assert.ok(err !== null && ["EADDRNOTAVAIL", "EINVAL"].includes(err.code ?? ""), `got ${err?.code}`);
  });
});
