/**
 * Test support: a stand-in for the local `docker` CLI, so tests of the
 * docker-context lookup run without Docker installed.
 *
 * @module
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A temp dir holding an executable `docker` shell script with `body`.
 * `path` is a PATH that finds it first, then the system's tools (not a real docker elsewhere).
 */
export function fakeDockerDir(body: string): { dir: string; path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-fake-docker-"));
  writeFileSync(join(dir, "docker"), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, "docker"), 0o755);
  return { dir, path: `${dir}:/usr/bin:/bin`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
