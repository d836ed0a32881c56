#!/usr/bin/env bun
/**
 * rdhpf entry point: `bun src/main.ts`, `deno run -A src/main.ts`, or the
 * compiled binary.
 *
 * @module
 */
import { main } from "./cli/mod.ts";

process.exit(await main(process.argv.slice(2)));
