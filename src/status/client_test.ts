import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { linkSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { sampleDocument } from "./_sample_document.ts";
import { instanceFilesForKey, listInstances, queryInstance } from "./client.ts";
import type { StatusDocument } from "./schema.ts";

let dir: string;
const servers: (Server | NetServer)[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), "rdhpf-status-test-"));
});
after(async () => {
  for (const c of openSockets) c.destroy();
  for (const s of servers) await new Promise((r) => s.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const openSockets = new Set<Socket>();

function listen(server: Server | NetServer, path: string): Promise<void> {
  servers.push(server);
  server.on("connection", (c: Socket) => {
    openSockets.add(c);
    c.on("close", () => openSockets.delete(c));
  });
  return new Promise((resolve) => server.listen(path, resolve));
}

/** A real HTTP server on a unix socket answering GET /status. */
async function serveStatus(path: string, answer: (req: string) => { status: number; body: string }): Promise<Server> {
  const server = createHttpServer((req, res) => {
    const { status, body } = answer(req.url ?? "");
    res.writeHead(status, { "content-type": "application/json" });
    res.end(body);
  });
  await listen(server, path);
  return server;
}

/** A socket file nobody listens on, as a SIGKILLed daemon leaves it. */
async function deadSocket(path: string): Promise<void> {
  const tmp = `${path}.live`;
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(tmp, r));
  linkSync(tmp, path);
  await new Promise((r) => server.close(r));
}

function writeState(path: string, doc: StatusDocument | string): void {
  writeFileSync(path, typeof doc === "string" ? doc : JSON.stringify(doc));
}

/** A document from a daemon that is surely gone: PID far above any pid_max. */
function goneDoc(over: Partial<StatusDocument> = {}): StatusDocument {
  return { ...sampleDocument(), pid: 2 ** 30, ...over };
}

describe("queryInstance", () => {
  it("returns the live document served on the control socket", async () => {
    const files = instanceFilesForKey(dir, "live0000000a");
    let asked = "";
    await serveStatus(files.controlApiSocket, (url) => {
      asked = url;
      return { status: 200, body: JSON.stringify(sampleDocument()) };
    });
    const t0 = performance.now();
    const view = await queryInstance(files);
    const ms = performance.now() - t0;
    assert.equal(asked, "/status");
    assert.deepEqual(view, { doc: sampleDocument(), live: true, staleAgeS: null, unresponsive: false });
    assert.ok(ms < 200, `live answer took ${ms} ms`);
  });

  it("falls back to the state file, marked stale with its age, when the socket file has no listener", async () => {
    const files = instanceFilesForKey(dir, "dead0000000b");
    await deadSocket(files.controlApiSocket);
    const now = new Date("2026-11-27T18:10:00.000Z");
    writeState(files.stateFile, goneDoc({ state: "connected", updated_at: "2026-11-27T18:05:00.000Z" }));
    const view = await queryInstance(files, 200, () => now);
    assert.equal(view?.live, false);
    assert.equal(view?.staleAgeS, 300);
    assert.equal(view?.unresponsive, false);
  });

  it("falls back to the state file when there is no socket at all (clean exit)", async () => {
    const files = instanceFilesForKey(dir, "gone0000000c");
    writeState(files.stateFile, goneDoc({ state: "stopping" }));
    const view = await queryInstance(files);
    assert.equal(view?.live, false);
    assert.equal(view?.doc.state, "stopping");
  });

  it("takes the file's modification time when updated_at is unreadable", async () => {
    const files = instanceFilesForKey(dir, "mtime000000d");
    writeState(files.stateFile, goneDoc({ updated_at: "not a time" }));
    const tenMinAgo = new Date(Date.now() - 600_000);
    utimesSync(files.stateFile, tenMinAgo, tenMinAgo);
    const view = await queryInstance(files);
    assert.ok(view && view.staleAgeS !== null && Math.abs(view.staleAgeS - 600) <= 2, `age ${view?.staleAgeS}`);
  });

  it("reports a corrupt state file clearly instead of crashing", async () => {
    const files = instanceFilesForKey(dir, "corrupt0000e");
    writeState(files.stateFile, '{"host": "ssh://x", "pid": ');
    await assert.rejects(queryInstance(files), (err: unknown) => {
      assert.ok(err instanceof RdhpfError);
      assert.match(err.message, /state file .*corrupt0000e\.state\.json is corrupt \(not JSON/);
      assert.match(err.hint ?? "", /remove it/);
      return true;
    });
  });

  it("reports a state file that is JSON but not a status document, naming the bad field", async () => {
    const files = instanceFilesForKey(dir, "corrupt0000f");
    writeState(files.stateFile, JSON.stringify({ ...sampleDocument(), pid: "many" }));
    await assert.rejects(queryInstance(files), /is corrupt \(pid: /);
  });

  it("gives up on a server that never answers at the timeout and shows the state file", async () => {
    const files = instanceFilesForKey(dir, "hung00000010");
    const hung = createNetServer(() => {}); // accepts, never answers
    await listen(hung, files.controlApiSocket);
    writeState(files.stateFile, goneDoc());
    const t0 = performance.now();
    const view = await queryInstance(files, 200);
    const ms = performance.now() - t0;
    assert.equal(view?.live, false);
    assert.ok(ms >= 190 && ms < 400, `gave up after ${ms} ms`);
  });

  it("marks a daemon whose PID still exists but does not answer as unresponsive", async () => {
    const files = instanceFilesForKey(dir, "stopped00011");
    await deadSocket(files.controlApiSocket);
    writeState(files.stateFile, { ...sampleDocument(), pid: process.pid, state: "connected" });
    const view = await queryInstance(files);
    assert.equal(view?.unresponsive, true);
  });

  it("does not call a daemon that said it was stopping unresponsive, even if its PID was reused", async () => {
    const files = instanceFilesForKey(dir, "stopping0012");
    writeState(files.stateFile, { ...sampleDocument(), pid: process.pid, state: "stopping" });
    assert.equal((await queryInstance(files))?.unresponsive, false);
  });

  it("falls back to the state file when the daemon answers with an HTTP error", async () => {
    const files = instanceFilesForKey(dir, "http50000013");
    await serveStatus(files.controlApiSocket, () => ({ status: 503, body: "{}" }));
    writeState(files.stateFile, goneDoc());
    assert.equal((await queryInstance(files))?.live, false);
  });

  it("says so when a live daemon answers with a document it cannot read", async () => {
    const files = instanceFilesForKey(dir, "badanswer014");
    await serveStatus(files.controlApiSocket, () => ({ status: 200, body: JSON.stringify({ hello: "world" }) }));
    await assert.rejects(queryInstance(files), /answered with a status document this rdhpf cannot read/);
  });

  it("returns null when the instance has neither socket nor state file", async () => {
    assert.equal(await queryInstance(instanceFilesForKey(dir, "nothing00015")), null);
  });
});

describe("listInstances", () => {
  it("finds every instance of the runtime dir, live ones first, and lists unreadable ones as problems", async () => {
    const d = mkdtempSync(join(dir, "list-"));
    const a = instanceFilesForKey(d, "aaaaaaaaaaaa");
    const b = instanceFilesForKey(d, "bbbbbbbbbbbb");
    const c = instanceFilesForKey(d, "cccccccccccc");
    writeState(a.stateFile, goneDoc({ host: "ssh://a-stale" }));
    await serveStatus(b.controlApiSocket, () => ({ status: 200, body: JSON.stringify({ ...sampleDocument(), host: "ssh://b-live" }) }));
    writeState(c.stateFile, "garbage");
    writeFileSync(join(d, "unrelated.txt"), "x");
    writeFileSync(join(d, "aaaaaaaaaaaa.state.json.123.tmp"), "half");
    const listing = await listInstances(d);
    assert.deepEqual(listing.views.map((v) => [v.doc.host, v.live]), [["ssh://b-live", true], ["ssh://a-stale", false]]);
    assert.equal(listing.problems.length, 1);
    assert.match(listing.problems[0]!.message, /cccccccccccc\.state\.json is corrupt/);
  });

  it("finds nothing in a runtime dir that does not exist", async () => {
    assert.deepEqual(await listInstances(join(dir, "no-such-dir")), { views: [], problems: [] });
  });
});
