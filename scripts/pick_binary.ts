/**
 * Which compiled binary the end-to-end tests, the demo, bench and soak run,
 * chosen so that they never overwrite what `npm run build` made:
 *
 * 1. RDHPF_TEST_BINARY, when set: exactly that file.
 * 2. dist/rdhpf-<platform>, when dist/SHA256SUMS vouches for it and no
 *    source file is newer than it: the very file that is shipped (CI builds
 *    all four, checks the sums, then tests this one).
 * 3. Otherwise a fresh host build in build/ (dist/ stays untouched).
 *
 *   bun scripts/pick_binary.ts    # prints the path; the reason and sha256 go to stderr
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const hostName = `rdhpf-${process.platform}-${process.arch}`;

export function sha256Of(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** The digest SHA256SUMS text lists for a file name, if any. */
export function listedDigest(sums: string, fileName: string): string | undefined {
  for (const line of sums.split("\n")) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m && m[2] === fileName) return m[1];
  }
  return undefined;
}

/** Newest modification time (ms) of the files a build is made from. */
function newestSourceMs(): number {
  let newest = statSync(join(root, "package.json")).mtimeMs;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(root, "src"));
  return newest;
}

/** Why dist/'s host binary cannot be the one under test, or null when it can. */
export function distRejection(): string | null {
  const sumsFile = join(root, "dist", "SHA256SUMS");
  const binary = join(root, "dist", hostName);
  if (!existsSync(sumsFile)) return "no dist/SHA256SUMS (no `npm run build` yet)";
  const listed = listedDigest(readFileSync(sumsFile, "utf8"), hostName);
  if (!listed) return `dist/SHA256SUMS lists no ${hostName}`;
  if (!existsSync(binary)) return `dist/${hostName} is missing`;
  if (sha256Of(binary) !== listed) return `dist/${hostName} does not match dist/SHA256SUMS`;
  if (newestSourceMs() > statSync(binary).mtimeMs) return `src/ changed after dist/${hostName} was built`;
  return null;
}

/** The binary to test: its absolute path and why it was chosen. Builds into build/ when needed. */
export function binaryUnderTest(): { path: string; why: string } {
  const given = process.env.RDHPF_TEST_BINARY;
  if (given) {
    if (!existsSync(given)) throw new Error(`RDHPF_TEST_BINARY=${given} does not exist: build one with \`bun scripts/build-binaries.ts --host --outdir DIR\` or unset it`);
    return { path: given, why: "RDHPF_TEST_BINARY" };
  }
  const rejected = distRejection();
  if (rejected === null) return { path: join(root, "dist", hostName), why: "verified against dist/SHA256SUMS" };
  execFileSync(process.execPath, [join(root, "scripts", "build-binaries.ts"), "--host", "--outdir", "build"], { cwd: root, stdio: ["ignore", process.stderr, "inherit"] });
  return { path: join(root, "build", hostName), why: `fresh host build (${rejected}; dist/ left as it is)` };
}

if (import.meta.main) {
  const { path, why } = binaryUnderTest();
  process.stderr.write(`binary under test: ${path.startsWith(root) ? relative(root, path) : path}\n  sha256 ${sha256Of(path)}\n  chosen: ${why}\n`);
  console.log(path);
}
