import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connects } from "./connects.ts";

describe("connects", () => {
  it("is true for a listening TCP port and false once nothing listens there", async () => {
    const server = createServer((c) => c.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    assert.equal(await connects({ host: "127.0.0.1", port }, 1_000), true);
    await new Promise<void>((r) => server.close(() => r()));
    assert.equal(await connects({ host: "127.0.0.1", port }, 1_000), false);
  });

  it("is true for a listening unix socket and false for a missing one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-connects-"));
    const path = join(dir, "s");
    const server = createServer((c) => c.destroy());
    try {
      await new Promise<void>((r) => server.listen(path, r));
      assert.equal(await connects({ path }, 1_000), true);
      assert.equal(await connects({ path: join(dir, "missing") }, 1_000), false);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
