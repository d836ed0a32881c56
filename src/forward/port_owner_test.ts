import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { parseLsofOwner } from "./port_owner_darwin.ts";
import { findPortOwner, parseSsOwner } from "./port_owner_linux.ts";

describe("port owner", () => {
  it("reads the process from ss output", () => {
    assert.equal(parseSsOwner('LISTEN 0 4096 127.0.0.1:5432 0.0.0.0:* users:(("postgres",pid=812,fd=5))'), "pid 812 (postgres)");
    assert.equal(parseSsOwner("LISTEN 0 4096 127.0.0.1:5432 0.0.0.0:*"), null);
  });
  it("reads the process from lsof -F output", () => {
    assert.equal(parseLsofOwner("p812\ncpostgres\nf5\n"), "pid 812 (postgres)");
    assert.equal(parseLsofOwner(""), null);
  });
  it("finds this very process listening on a port", { skip: process.platform !== "linux" }, async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      assert.match((await findPortOwner(port)) ?? "", new RegExp(`pid ${process.pid} `));
    } finally {
      server.close();
    }
  });
});
