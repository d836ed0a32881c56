#!/usr/bin/env bun
/**
 * rdhpf entry point: `bun src/main.ts`, `deno run -A src/main.ts`, or the
 * compiled binary.
 *
 * @module
 */
import { paceGcForDaemon } from "./gc_pacing.ts";
import { versionLine } from "./version.ts";

const argv = process.argv.slice(2);
// First of all: may replace this process (same pid) before anything is opened.
paceGcForDaemon(argv);
/** `rdhpf --version` answers without loading the command tree (commander and every command's modules). */
const VERSION_ONLY = [["--version"], ["-V"], ["version"]];

let code: number;
if (VERSION_ONLY.some((v) => v.length === argv.length && v.every((a, i) => a === argv[i]))) {
  process.stdout.write(`${versionLine()}\n`);
  code = 0;
} else {
  const { main } = await import("./cli/mod.ts");
  code = await main(argv);
}
process.exitCode = code;
// Bun's process.exit() drops what a pipe has not taken yet: a 3 MB
// `status --format json | jq` arrived cut at 128 KiB. Ending stdout waits for
// it to be written; the deadline covers a reader that never reads.
await Promise.race([
  new Promise<void>((resolve) => process.stdout.end(() => resolve())),
  new Promise<void>((resolve) => setTimeout(resolve, 5000).unref()),
]);
process.exit(code);
