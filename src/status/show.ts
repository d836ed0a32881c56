/**
 * `rdhpf status`: query, render, print, and the exit status scripts act on;
 * with `--watch`, redraw every second until stopped.
 *
 * @module
 */
import { sleep } from "../sleep.ts";
import { formatError } from "../errors.ts";
import { type InstanceListing, type InstanceSelection, selectInstances } from "./client.ts";
import { statusExitCode } from "./health.ts";
import { renderStatus, type StatusFormat } from "./render.ts";

/** Where output goes; process.stdout/stderr in the CLI, buffers in tests. */
export interface StatusIo {
  stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
}

/** Options of `showStatus`. */
export interface ShowStatusOptions {
  selection: InstanceSelection;
  format: StatusFormat;
  watch: boolean;
  io: StatusIo;
  /** Redraw interval of `--watch`. */
  intervalMs?: number;
  /** Ends `--watch` (the CLI aborts it on SIGINT/SIGTERM). */
  signal?: AbortSignal;
  now?: () => Date;
}

const MIN_WIDTH = 80;
const MAX_WIDTH = 100;
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/** Colour only on a terminal, and never when NO_COLOR is set to anything (https://no-color.org). */
export function useColor(io: StatusIo): boolean {
  return io.stdout.isTTY === true && (io.env.NO_COLOR === undefined || io.env.NO_COLOR === "");
}

function tableWidth(io: StatusIo): number {
  const cols = io.stdout.isTTY ? io.stdout.columns : undefined;
  return cols ? Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, cols)) : MAX_WIDTH;
}

function notFoundMessage(selection: InstanceSelection): string {
  return selection.host
    ? `rdhpf: rdhpf is not running for ${selection.host.target} (no control socket or state file in ${selection.dir})\nhint: start it with \`rdhpf run --host ${selection.host.target}\``
    : `rdhpf: no rdhpf instance found in ${selection.dir}\nhint: start one with \`rdhpf run --host TARGET\`; RDHPF_STATE_DIR must match the one it runs with`;
}

function render(listing: InstanceListing, opts: ShowStatusOptions, compact: boolean): Promise<string> {
  const { views } = listing;
  const single = opts.selection.host !== null;
  // No document to print (--host) and no table to draw: stderr says why.
  if (views.length === 0 && (single || opts.format === "table")) return Promise.resolve("");
  return renderStatus(views, opts.format, { color: useColor(opts.io), now: (opts.now ?? (() => new Date()))(), width: tableWidth(opts.io), single, compact });
}

/** Prints the status once; returns the exit status (0 healthy, 1 not running, 3 degraded). */
async function showOnce(opts: ShowStatusOptions): Promise<number> {
  const listing = await selectInstances(opts.selection);
  for (const p of listing.problems) opts.io.stderr.write(`${formatError(p)}\n`);
  const text = await render(listing, opts, false);
  if (text) opts.io.stdout.write(text);
  if (listing.views.length === 0 && listing.problems.length === 0) opts.io.stderr.write(`${notFoundMessage(opts.selection)}\n`);
  return statusExitCode(listing.views);
}


/** One `--watch` frame: cleared and redrawn on a terminal, appended (separated) on a pipe. */
async function watchFrame(listing: InstanceListing, opts: ShowStatusOptions): Promise<{ stdout: string; stderr: string }> {
  const tty = opts.io.stdout.isTTY === true;
  const problems = listing.problems.map((p) => `${formatError(p)}\n`).join("");
  const body = await render(listing, opts, !tty && opts.format === "json");
  const nothing = listing.views.length === 0 && listing.problems.length === 0 ? `${notFoundMessage(opts.selection)}\n` : "";
  if (tty) {
    const now = (opts.now ?? (() => new Date()))();
    const every = (opts.intervalMs ?? 1000) / 1000;
    const title = opts.format === "table" ? `rdhpf status — ${now.toISOString().slice(11, 19)} UTC, every ${every}s (Ctrl+C to stop)\n\n` : "";
    return { stdout: `${CLEAR_SCREEN}${title}${problems}${nothing}${body}`, stderr: "" };
  }
  if (!body) return { stdout: "", stderr: problems + nothing };
  const framed = opts.format === "yaml" ? `---\n${body}` : opts.format === "table" ? `${body}\n` : body;
  return { stdout: framed, stderr: problems + nothing };
}

/**
 * Runs `rdhpf status`. Without `watch`, prints once and returns the exit
 * status; with it, redraws every `intervalMs` until `signal` aborts, then 0.
 */
export async function showStatus(opts: ShowStatusOptions): Promise<number> {
  if (!opts.watch) return showOnce(opts);
  const intervalMs = opts.intervalMs ?? 1000;
  while (!opts.signal?.aborted) {
    const started = performance.now();
    const listing = await selectInstances(opts.selection);
    if (opts.signal?.aborted) break;
    const frame = await watchFrame(listing, opts);
    if (frame.stderr) opts.io.stderr.write(frame.stderr);
    if (frame.stdout) opts.io.stdout.write(frame.stdout);
    await sleep(Math.max(0, intervalMs - (performance.now() - started)), opts.signal);
  }
  return 0;
}
