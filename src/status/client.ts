/**
 * Finds rdhpf instances in the runtime dir and asks each for its status:
 * live over its control socket (HTTP `GET /status` on a unix socket), else
 * from the state file it left, marked stale with its age.
 *
 * @module
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { z } from "zod";
import { instancePathsOfKey, type InstancePaths } from "../paths.ts";
import { RdhpfError } from "../errors.ts";
import { isAlive } from "../process/mod.ts";
import { type StatusDocument, StatusDocumentSchema } from "./schema.ts";
import { getOnSocket } from "./socket_get.ts";
import type { InstanceView } from "./view.ts";

const log = getLogger(["rdhpf", "status"]);

/** The two files of an instance that status reads. */
export type InstanceFiles = Pick<InstancePaths, "controlApiSocket" | "stateFile">;

/** A live answer within this time, else the state file is shown (issue: "live answer within 200 ms"). */
export const DEFAULT_QUERY_TIMEOUT_MS = 200;
/** Larger answers are refused: a status document with 100 history rows is a few hundred KB at most. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

type LiveAnswer = { kind: "document"; doc: StatusDocument } | { kind: "none"; why: string };

function describeIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return "invalid document";
  return `${issue.path.length ? issue.path.join(".") : "document"}: ${issue.message}`;
}

/** GET /status on the control socket; "none" when nobody answers in time. */
async function fetchLive(socketPath: string, timeoutMs: number): Promise<LiveAnswer> {
  const t0 = performance.now();
  const answer = await getOnSocket(socketPath, "/status", { accept: "application/json", timeoutMs, maxBytes: MAX_BODY_BYTES });
  if (answer.kind === "none") return answer;
  log.debug("Status request answered", { socket: socketPath, status: answer.status, bytes: answer.body.length, duration_ms: Math.round(performance.now() - t0) });
  if (answer.status !== 200) return { kind: "none", why: `HTTP ${answer.status}` };
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(answer.body));
  } catch (err) {
    throw unreadableAnswer(socketPath, `not JSON: ${(err as Error).message}`);
  }
  const parsed = StatusDocumentSchema.safeParse(body);
  if (!parsed.success) throw unreadableAnswer(socketPath, describeIssue(parsed.error));
  return { kind: "document", doc: parsed.data };
}

function unreadableAnswer(socketPath: string, detail: string): RdhpfError {
  return new RdhpfError(
    `the rdhpf daemon on ${socketPath} answered with a status document this rdhpf cannot read (${detail})`,
    "the running daemon and this binary are probably different versions: restart the daemon with this binary",
  );
}

/** The last document a daemon wrote, or null when there is none; throws a clear error when it is corrupt. */
async function readStateFile(path: string, now: Date): Promise<Omit<InstanceView, "live"> | null> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(path, "utf8"), stat(path).then((s) => s.mtimeMs)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new RdhpfError(`cannot read state file ${path}: ${(err as Error).message}`, "check the runtime dir's owner and mode");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw corruptStateFile(path, `not JSON: ${(err as Error).message}`);
  }
  const parsed = StatusDocumentSchema.safeParse(body);
  if (!parsed.success) throw corruptStateFile(path, describeIssue(parsed.error));
  const doc = parsed.data;
  const written = Date.parse(doc.updated_at);
  const ageMs = now.getTime() - (Number.isNaN(written) ? mtimeMs : written);
  return { doc, staleAgeS: Math.max(0, Math.floor(ageMs / 1000)), unresponsive: doc.state !== "stopping" && isAlive(doc.pid) };
}

function corruptStateFile(path: string, detail: string): RdhpfError {
  return new RdhpfError(
    `state file ${path} is corrupt (${detail}), and no rdhpf answers for that host`,
    "the file is left from an earlier run: remove it, or start `rdhpf run` for that host, which rewrites it",
  );
}

/**
 * Asks one instance for its status: live within `timeoutMs`, else its state
 * file (stale). Null when neither answers nor a state file exists. Throws an
 * RdhpfError (exit 1) when a state file or an answer is unreadable.
 */
export async function queryInstance(paths: InstanceFiles, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS, now: () => Date = () => new Date()): Promise<InstanceView | null> {
  const live = await fetchLive(paths.controlApiSocket, timeoutMs);
  if (live.kind === "document") return { doc: live.doc, live: true, staleAgeS: null, unresponsive: false };
  log.debug("No live status, reading state file", { socket: paths.controlApiSocket, why: live.why });
  const last = await readStateFile(paths.stateFile, now());
  return last === null ? null : { ...last, live: false };
}

/** Every instance found in a runtime dir, and what could not be read. */
export interface InstanceListing {
  /** Live instances first, then stale ones; each group by host. */
  views: InstanceView[];
  /** One message per instance whose files are unreadable (corrupt state file...). */
  problems: RdhpfError[];
}

/** File name suffixes of the two files, taken from the one place that knows paths. */
function fileSuffixes(): { api: string; state: string } {
  const probe = instancePathsOfKey("", "probe");
  return { api: probe.controlApiSocket.slice(probe.key.length), state: probe.stateFile.slice(probe.key.length) };
}

/** The files of the instance with this key in `dir`. */
export function instanceFilesForKey(dir: string, key: string): InstanceFiles {
  const s = fileSuffixes();
  return { controlApiSocket: join(dir, key + s.api), stateFile: join(dir, key + s.state) };
}

/** Every instance of this user in the runtime dir (found by its control socket or state file), queried in parallel. */
export async function listInstances(dir: string, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS): Promise<InstanceListing> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { views: [], problems: [] };
    return { views: [], problems: [new RdhpfError(`cannot read runtime dir ${dir}: ${(err as Error).message}`, "check its owner and mode (it should be yours, 0700)")] };
  }
  const s = fileSuffixes();
  const keys = new Set<string>();
  for (const name of names) {
    for (const suffix of [s.api, s.state]) {
      if (name.endsWith(suffix) && name.length > suffix.length) keys.add(name.slice(0, -suffix.length));
    }
  }
  const results = await Promise.all([...keys].sort().map(async (key) => {
    try {
      return await queryInstance(instanceFilesForKey(dir, key), timeoutMs);
    } catch (err) {
      if (err instanceof RdhpfError) return err;
      throw err;
    }
  }));
  const views = results.filter((r): r is InstanceView => r !== null && !(r instanceof RdhpfError));
  views.sort((a, b) => Number(b.live) - Number(a.live) || a.doc.host.localeCompare(b.doc.host));
  return { views, problems: results.filter((r): r is RdhpfError => r instanceof RdhpfError) };
}

/** Which instances a command looks at: the one of `--host`, or every one in the runtime dir. */
export interface InstanceSelection {
  dir: string;
  /** `--host` given: the TARGET as typed (for messages) and its instance's files. */
  host: { target: string; files: InstanceFiles } | null;
}

/** Views of the selected instances (none when `--host` names an instance that never ran). */
export async function selectInstances(selection: InstanceSelection, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS): Promise<InstanceListing> {
  if (selection.host === null) return listInstances(selection.dir, timeoutMs);
  try {
    const view = await queryInstance(selection.host.files, timeoutMs);
    return { views: view ? [view] : [], problems: [] };
  } catch (err) {
    if (err instanceof RdhpfError) return { views: [], problems: [err] };
    throw err;
  }
}
