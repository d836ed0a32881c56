import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { DockerSocketServer } from "./docker_socket.ts";

/** A stand-in for the link's private socket: answers "got:<all bytes>" after the client's FIN, then ends. */
function startUpstream(path: string): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on("error", () => s.destroy());
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => s.end(`got:${Buffer.concat(chunks).toString("utf8")}`));
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

/** Sends `text`, half-closes, and reads the answer until the relay ends the stream. */
function roundTrip(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path, allowHalfOpen: true });
    let answer = "";
    s.on("data", (c: Buffer) => (answer += c.toString("utf8")));
    s.on("end", () => resolve(answer));
    s.on("error", reject);
    s.end(text);
  });
}

describe("DockerSocketServer", () => {
  let dir: string;
  let relay: DockerSocketServer | null;
  let upstream: net.Server | null;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rdhpf-sock-"));
    chmodSync(dir, 0o700);
    relay = null;
    upstream = null;
  });
  afterEach(async () => {
    await relay?.close();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("relays bytes unchanged and passes the client's FIN on, then the link's answer back", async () => {
    upstream = await startUpstream(join(dir, "link.sock"));
    relay = await DockerSocketServer.start({ path: join(dir, "box.sock") });
    relay.setUpstream(join(dir, "link.sock"));
    const big = "x".repeat(1_000_000);
    assert.equal(await roundTrip(relay.path, big), `got:${big}`);
  });

  it("serves the socket with mode 0600 and removes it at close", async () => {
    relay = await DockerSocketServer.start({ path: join(dir, "box.sock") });
    assert.equal(statSync(relay.path).mode & 0o777, 0o600);
    await relay.close();
    assert.equal(existsSync(join(dir, "box.sock")), false);
  });

  it("lets a client that comes while there is no link wait for the next one", async () => {
    relay = await DockerSocketServer.start({ path: join(dir, "box.sock"), waitForLinkMs: 5000 });
    const answer = roundTrip(relay.path, "ping");
    await new Promise((r) => setTimeout(r, 300));
    upstream = await startUpstream(join(dir, "link.sock"));
    relay.setUpstream(join(dir, "link.sock"));
    assert.equal(await answer, "got:ping");
  });

  it("closes a waiting client when no link comes in time", async () => {
    relay = await DockerSocketServer.start({ path: join(dir, "box.sock"), waitForLinkMs: 300 });
    const started = Date.now();
    assert.equal(await roundTrip(relay.path, "ping"), "");
    assert.ok(Date.now() - started >= 250, "closed before the wait was over");
  });

  it("keeps trying a link whose socket refuses until it answers (it is being replaced)", async () => {
    relay = await DockerSocketServer.start({ path: join(dir, "box.sock"), waitForLinkMs: 5000 });
    relay.setUpstream(join(dir, "link.sock"));
    const answer = roundTrip(relay.path, "ping");
    await new Promise((r) => setTimeout(r, 400));
    upstream = await startUpstream(join(dir, "link.sock"));
    assert.equal(await answer, "got:ping");
  });

  it("refuses, with exit status 2, a directory that others can enter", async () => {
    chmodSync(dir, 0o755);
    await assert.rejects(DockerSocketServer.start({ path: join(dir, "box.sock") }), (err: RdhpfError) => err.exitCode === 2 && /not private/.test(err.message));
  });

  it("refuses a path that another process serves, and replaces a stale socket", async () => {
    upstream = await startUpstream(join(dir, "box.sock"));
    await assert.rejects(DockerSocketServer.start({ path: join(dir, "box.sock") }), /another process serves it/);
    await new Promise<void>((r) => upstream!.close(() => r()));
    upstream = null;
    // Bun and Node leave the file of a closed listener behind at times; a dead socket file is stale either way.
    relay = await DockerSocketServer.start({ path: join(dir, "box.sock") });
    assert.equal(relay.connections(), 0);
  });
});
