#!/usr/bin/env bun
/**
 * rdhpf entry point: `bun src/main.ts`, `deno run -A src/main.ts`, or the
 * compiled binary.
 *
 * @module
 */
import { main } from "./cli/mod.ts";

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Bun's process.exit() drops what a pipe has not taken yet: a 3 MB
// `status --format json | jq` arrived cut at 128 KiB. Ending stdout waits for
// it to be written; the deadline covers a reader that never reads.
await Promise.race([
  new Promise<void>((resolve) => process.stdout.end(() => resolve())),
  new Promise<void>((resolve) => setTimeout(resolve, 5000).unref()),
]);
process.exit(code);
