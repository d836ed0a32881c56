/**
 * The status/control socket under hostile local clients, driving the
 * compiled binary: garbage, half-sent, never-finishing, huge and very many
 * requests never block or crash the daemon, `rdhpf status` keeps answering
 * live meanwhile, and every bad connection is closed by the daemon.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, rdhpf, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("control socket tests");

/** The daemon closes any connection after 3 s (control_server.ts); the margin covers a loaded CI machine. */
const CLOSED_WITHIN_MS = 6_000;
/** `rdhpf status` falls back to the state file after this long: a `live` answer came sooner. */
const LIVE_WITHIN_MS = 200;

interface HostileClient {
  kind: string;
  /** Milliseconds from connect until the daemon closed the connection; null while open. */
  closedAfterMs: number | null;
  reply: string;
  socket: Socket;
}

/** Opens one connection and plays `behave` on it; records when the daemon closes it. */
function hostile(path: string, kind: string, behave: (s: Socket) => void): Promise<HostileClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const c: HostileClient = { kind, closedAfterMs: null, reply: "", socket };
    const t0 = Date.now();
    let connected = false;
    socket.on("connect", () => {
      connected = true;
      behave(socket);
      resolve(c);
    });
    socket.on("data", (d) => (c.reply += d.toString("latin1").slice(0, 200)));
    socket.on("close", () => (c.closedAfterMs = Date.now() - t0));
    // EPIPE/ECONNRESET once the daemon closed the connection are the expected end.
    socket.on("error", (e) => (connected ? undefined : reject(e)));
  });
}

/** Writes `chunk` every `everyMs` until the connection closes. */
function trickle(s: Socket, chunk: string, everyMs: number): void {
  const t = setInterval(() => (s.writable ? s.write(chunk) : clearInterval(t)), everyMs);
  s.on("close", () => clearInterval(t));
}

describe("the control socket under hostile local clients (compiled binary)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  let apiSocket: string;

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    daemon = new Daemon(tb);
    await waitFor("daemon connected", async () => (await daemon.status()).state === "connected", 20_000, 200);
    apiSocket = join(daemon.stateDir, readdirSync(daemon.stateDir).find((n) => n.endsWith(".api.sock"))!);
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
  });

  async function liveStatus(): Promise<{ live: boolean; ms: number }> {
    const t0 = Date.now();
    const r = await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile, "--format", "json"], { RDHPF_STATE_DIR: daemon.stateDir });
    const doc = JSON.parse(r.stdout) as { live: boolean; pid: number };
    assert.equal(doc.pid, daemon.pid);
    return { live: doc.live, ms: Date.now() - t0 };
  }

  it("keeps answering `rdhpf status` live while garbage, half-sent, slow, huge and many requests hold connections, and closes them all", async () => {
    const fdsBefore = readdirSync(`/proc/${daemon.pid}/fd`).length;
    const mib = "a".repeat(1 << 20);
    const plays: Array<[string, number, (s: Socket) => void]> = [
      ["garbage", 20, (s) => s.write("\u0000\u0001\u001b[2J\xff\xfe not http at all\r\n\r\n")],
      ["half-sent request", 20, (s) => s.write("GET /status HTTP/1.1\r\nHost: x\r\n")],
      ["silent", 200, () => undefined],
      ["never-finishing headers", 20, (s) => { s.write("GET /status HTTP/1.1\r\n"); trickle(s, "X-Slow: 1\r\n", 100); }],
      ["never-finishing body", 20, (s) => { s.write("POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"); trickle(s, "a", 100); }],
      ["never-finishing keep-alive", 10, (s) => trickle(s, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", 100)],
      ["1 MiB request line", 5, (s) => s.write(`GET /${mib} HTTP/1.1\r\n\r\n`)],
      ["1 MiB header", 5, (s) => s.write(`GET /status HTTP/1.1\r\nX-Huge: ${mib}\r\n\r\n`)],
      ["endless header", 5, (s) => { s.write("GET /status HTTP/1.1\r\nX-Endless: "); trickle(s, "a".repeat(64 * 1024), 50); }],
    ];
    const clients = await Promise.all(plays.flatMap(([kind, n, behave]) => Array.from({ length: n }, () => hostile(apiSocket, kind, behave))));
    process.stderr.write(`${clients.length} hostile connections open\n`);

    // Meanwhile, the user's status command answers live (not from the state file) within the client's 200 ms budget.
    const answers: Array<{ live: boolean; ms: number }> = [];
    for (let i = 0; i < 5; i++) answers.push(await liveStatus());
    process.stderr.write(`status while under attack: ${JSON.stringify(answers)}\n`);
    for (const a of answers) assert.ok(a.live, `rdhpf status did not get a live answer within ${LIVE_WITHIN_MS} ms`);

    await waitFor("every hostile connection closed by the daemon", () => clients.every((c) => c.closedAfterMs !== null), CLOSED_WITHIN_MS + 2_000, 50);
    const byKind: Record<string, number> = {};
    for (const c of clients) byKind[c.kind] = Math.max(byKind[c.kind] ?? 0, c.closedAfterMs!);
    process.stderr.write(`longest time to close, per kind (ms): ${JSON.stringify(byKind)}\n`);
    for (const [kind, ms] of Object.entries(byKind)) assert.ok(ms <= CLOSED_WITHIN_MS, `${kind} connection held for ${ms} ms`);
    for (const c of clients.filter((c) => c.kind === "garbage" || c.kind.startsWith("1 MiB"))) {
      assert.match(c.reply, /^HTTP\/1\.1 4\d\d /, `${c.kind} got ${JSON.stringify(c.reply.slice(0, 40))}`);
    }

    assert.equal(daemon.exitCode, null, "the daemon is still running");
    assert.ok((await liveStatus()).live);
    // No descriptor of a hostile connection survives it.
    await waitFor("daemon fds back to where they were", () => readdirSync(`/proc/${daemon.pid}/fd`).length <= fdsBefore + 2, 5_000, 100);
  });

  it("answers 404 to other paths and methods and stays up", async () => {
    const c = await hostile(apiSocket, "other path", (s) => s.write("DELETE /shutdown HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    await waitFor("answer", () => c.closedAfterMs !== null, CLOSED_WITHIN_MS, 20);
    assert.match(c.reply, /^HTTP\/1\.1 404 /);
    assert.equal(daemon.exitCode, null);
    assert.ok((await liveStatus()).live);
  });
});
