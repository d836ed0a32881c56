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

/** A stand-in Engine: answers every request head it reads with `answer(target)`, in order, writing all answers of one read in one write. */
function startFakeEngine(path: string, answer: (target: string) => string): Promise<net.Server> {
  const server = net.createServer((s) => {
    let pending = "";
    s.on("error", () => s.destroy());
    s.on("data", (c: Buffer) => {
      pending += c.toString("latin1");
      let out = "";
      for (let end = pending.indexOf("\r\n\r\n"); end >= 0; end = pending.indexOf("\r\n\r\n")) {
        out += answer(pending.slice(0, end).split(" ")[1]!);
        pending = pending.slice(end + 4);
      }
      if (out) s.write(out);
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

const NO_CONTENT = "HTTP/1.1 204 No Content\r\nApi-Version: 1.47\r\n\r\n";
const okJson = (body: string) => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/** Sends `text` on a new connection and collects what comes back, with the time (since sending) each piece arrived. */
function exchange(path: string, text: string, until: (received: string) => boolean): Promise<{ received: string; arrivals: Array<[number, string]> }> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path });
    const started = performance.now();
    let received = "";
    const arrivals: Array<[number, string]> = [];
    s.on("data", (c: Buffer) => {
      received += c.toString("latin1");
      arrivals.push([performance.now() - started, c.toString("latin1")]);
      if (until(received)) {
        s.destroy();
        resolve({ received, arrivals });
      }
    });
    s.on("error", reject);
    s.write(text);
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

  describe("with the start hold", () => {
    const START = "POST /v1.47/containers/web/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n";
    const PS = "GET /v1.47/containers/json HTTP/1.1\r\nHost: docker\r\n\r\n";

    it("holds a start's success response, and the responses pipelined after it, until the hold ends; bytes unchanged and in order", async () => {
      upstream = await startFakeEngine(join(dir, "link.sock"), (t) => (t.endsWith("/start") ? NO_CONTENT : okJson('[{"Id":"abc"}]')));
      relay = await DockerSocketServer.start({ path: join(dir, "box.sock") });
      relay.setUpstream(join(dir, "link.sock"));
      const asked: string[] = [];
      relay.setStartHold(async (ref) => {
        asked.push(ref);
        await new Promise((r) => setTimeout(r, 150));
      });
      const expected = okJson('[{"Id":"abc"}]') + NO_CONTENT + okJson('[{"Id":"abc"}]');
      const { received, arrivals } = await exchange(relay.path, PS + START + PS, (r) => r.length >= expected.length);
      assert.equal(received, expected);
      assert.deepEqual(asked, ["web"]);
      // The first answer came at once; the start's and the one after it only once the hold ended.
      assert.ok(arrivals[0]![0] < 100, `first answer after ${arrivals[0]![0]} ms`);
      const heldAt = arrivals.find(([, text]) => text.includes("204"))![0];
      assert.ok(heldAt >= 140, `the 204 came after ${heldAt} ms, before the hold ended`);
      assert.ok(!arrivals.some(([at, text]) => at < 140 && text.includes("204")));
    });

    it("does not hold a failed start, nor other requests", async () => {
      upstream = await startFakeEngine(join(dir, "link.sock"), (t) => (t.endsWith("/start") ? "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}" : okJson("[]")));
      relay = await DockerSocketServer.start({ path: join(dir, "box.sock") });
      relay.setUpstream(join(dir, "link.sock"));
      const asked: string[] = [];
      relay.setStartHold(async (ref) => void asked.push(ref));
      const { received } = await exchange(relay.path, START + PS, (r) => r.endsWith("[]"));
      assert.equal(received, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}" + okJson("[]"));
      assert.deepEqual(asked, []);
    });

    it("carries a connection it does not understand byte for byte, and holds nothing on it", async () => {
      upstream = await startUpstream(join(dir, "link.sock"));
      relay = await DockerSocketServer.start({ path: join(dir, "box.sock") });
      relay.setUpstream(join(dir, "link.sock"));
      const asked: string[] = [];
      relay.setStartHold(async (ref) => void asked.push(ref));
      const weird = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + START;
      assert.equal(await roundTrip(relay.path, weird), `got:${weird}`);
      assert.deepEqual(asked, []);
    });
  });
});
