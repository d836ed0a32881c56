import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instancePaths } from "../paths.ts";
import { readCachedEndpoint } from "./docker_link.ts";

describe("readCachedEndpoint", () => {
  it("never reads the 0.1.0 cache, which a failed discovery could have pointed at another daemon, and removes it", () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-dl-"));
    try {
      const paths = instancePaths(dir, "root@10.0.0.2:22");
      writeFileSync(paths.legacyEndpointCache, "unix:///var/run/docker.sock\n");
      assert.equal(readCachedEndpoint(paths), null);
      assert.equal(existsSync(paths.legacyEndpointCache), false);
      writeFileSync(paths.endpointCache, "unix:///run/user/1000/docker.sock\n");
      assert.equal(readCachedEndpoint(paths), "unix:///run/user/1000/docker.sock");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
