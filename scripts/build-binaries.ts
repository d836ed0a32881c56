/**
 * Builds the self-contained release binaries with `bun build --compile`.
 *
 *   bun scripts/build-binaries.ts            # all four platforms + dist/SHA256SUMS
 *   bun scripts/build-binaries.ts --host     # only this machine's platform, into dist/
 *   bun scripts/build-binaries.ts --host --outdir build   # elsewhere, leaving dist/ as `npm run build` made it
 *
 * Version comes from package.json; the git commit and the UTC build time are
 * injected with --define so that `rdhpf --version` needs no file at run time.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdirArg = process.argv.indexOf("--outdir");
if (outdirArg !== -1 && !process.argv[outdirArg + 1]) throw new Error("--outdir needs a directory, e.g. --outdir build");
const dist = outdirArg === -1 ? join(root, "dist") : resolve(root, process.argv[outdirArg + 1]!);
const shown = relative(root, dist) || ".";
const TARGETS = ["darwin-x64", "darwin-arm64", "linux-x64", "linux-arm64"] as const;

function gitCommit(): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short=7", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8" }).trim() !== "";
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return "unknown";
  }
}

const hostOnly = process.argv.includes("--host");
const hostTarget = `${process.platform}-${process.arch}`;
const targets = hostOnly ? TARGETS.filter((t) => t === hostTarget) : [...TARGETS];
if (targets.length === 0) throw new Error(`no release target for this machine (${hostTarget}); targets: ${TARGETS.join(", ")}`);

const commit = gitCommit();
const builtAt = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const bun = process.execPath;
mkdirSync(dist, { recursive: true });

const sums: string[] = [];
for (const target of targets) {
  const outfile = join(dist, `rdhpf-${target}`);
  const started = performance.now();
  execFileSync(bun, [
    // --bytecode (which needs --format=esm for our top-level await) ships the
    // parsed program, and --splitting puts each command's modules (imported
    // only when it runs, src/cli/mod.ts) in chunks of their own: `rdhpf
    // --version` starts in a fifth and `rdhpf status` in half the CPU time,
    // for ~4 MB more per binary (docs/performance.md).
    "build", "--compile", "--minify", "--bytecode", "--format=esm", "--splitting", `--target=bun-${target}`,
    "--define", `RDHPF_COMMIT=${JSON.stringify(commit)}`,
    "--define", `RDHPF_BUILT_AT=${JSON.stringify(builtAt)}`,
    "--outfile", outfile, join(root, "src", "main.ts"),
  ], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const digest = createHash("sha256").update(readFileSync(outfile)).digest("hex");
  sums.push(`${digest}  rdhpf-${target}`);
  const mb = (statSync(outfile).size / 1024 / 1024).toFixed(1);
  console.log(`built ${shown}/rdhpf-${target} (${mb} MB, ${Math.round(performance.now() - started)} ms)`);
}
if (!hostOnly) {
  writeFileSync(join(dist, "SHA256SUMS"), `${sums.join("\n")}\n`);
  console.log(`wrote ${shown}/SHA256SUMS (verify: cd ${shown} && sha256sum -c SHA256SUMS)`);
}
