import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { type LocalForward, muxForward } from "./argv.ts";
import { classifySshStderr } from "./errors.ts";
import { failureReason, masterLinesFor } from "./forward_outcome.ts";
import type { MasterLog } from "./master.ts";
import { Mux } from "./mux.ts";
import { type FakeAnswer, type SeenRequest, startFakeMaster } from "./_fake_mux_master.ts";
import { parseTarget } from "./target.ts";

const f = (bindAddress: string, localPort: number, remoteHost = "127.0.0.1", remotePort = localPort): LocalForward => ({ bindAddress, localPort, remoteHost, remotePort });

// What an OpenSSH 9.2 master at LogLevel INFO printed for a batch of forwards
// with 127.0.0.1:40002 busy (a real capture) and ::1:40005 busy.
const MASTER_TEXT = [
  "bind [127.0.0.1]:40002: Address already in use",
  "channel_setup_fwd_listener_tcpip: cannot listen to port: 40002",
  "mux_master_process_open_fwd: requested local forward 127.0.0.1:40002 -> 127.0.0.1:22 failed",
  "bind [::1]:40005: Address already in use",
  "channel_setup_fwd_listener_tcpip: cannot listen to port: 40005",
  "mux_master_process_open_fwd: requested local forward ::1:40005 -> 127.0.0.1:40005 failed",
  "channel 3: open failed: connect failed: Connection refused",
].join("\r\n");

describe("masterLinesFor", () => {
  it("picks the lines about one forward's local address and port", () => {
    assert.deepEqual(masterLinesFor(MASTER_TEXT, f("::1", 40005)).split("\n"), [
      "bind [::1]:40005: Address already in use",
      "channel_setup_fwd_listener_tcpip: cannot listen to port: 40005",
      "mux_master_process_open_fwd: requested local forward ::1:40005 -> 127.0.0.1:40005 failed",
    ]);
  });

  it("returns nothing for a forward the master did not mention", () => {
    assert.equal(masterLinesFor(MASTER_TEXT, f("127.0.0.1", 40001)), "");
  });
});

describe("failureReason", () => {
  const cases: Array<[string, string]> = [
    ["bind [127.0.0.1]:5432: Address already in use", "local port 5432 is in use; find the owner with: lsof -nP -i :5432 (or ss -ltnp 'sport = :5432')"],
    ["Control socket connect(/r/k.ssh.sock): No such file or directory", "Control socket connect(/r/k.ssh.sock): No such file or directory (the SSH ControlMaster is not running; rdhpf reconnects by itself)"],
    ["mux_client_forward: forwarding request failed: Port forwarding failed", "mux_client_forward: forwarding request failed: Port forwarding failed"],
    ["", "unknown"],
  ];
  for (const [stderr, reason] of cases) it(`explains ${JSON.stringify(stderr)} in one line`, () => assert.equal(failureReason(classifySshStderr(stderr)), reason));
});


/** A master log that holds `text` once the batch has been sent. */
function logOf(text: string): MasterLog {
  return { cursor: () => 0, since: () => text };
}

const muxOn = (controlPath: string, opts?: ConstructorParameters<typeof Mux>[1]) =>
  new Mux({ sshBinary: "ssh-must-not-run", configFile: null, options: [], target: parseTarget("ssh://root@127.0.0.1:1"), controlPath }, opts);

const specs = (n: number): LocalForward[] => Array.from({ length: n }, (_, i) => f(i % 2 === 0 ? "127.0.0.1" : "::1", 20000 + Math.floor(i / 2)));

/** Answers OK except for the listen ports in `busy`, which fail as a bind failure does. */
const failing = (busy: number[]) => (r: SeenRequest): FakeAnswer => (r.op === "open" && busy.includes(r.forward.listenPort) ? { failure: "Port forwarding failed" } : { ok: true });

describe("Mux over the control socket", () => {
  it("sends all forwards of a batch over one connection, one request each, in order", async () => {
    const fake = await startFakeMaster(() => ({ ok: true }));
    try {
      const r = await muxOn(fake.path).forward(specs(2000));
      assert.equal(r.ok.length, 2000);
      assert.deepEqual(r.failed, []);
      assert.equal(fake.connections, 1);
      assert.deepEqual(fake.seen.map((s) => s.forward), specs(2000).map(muxForward));
      assert.ok(fake.seen.every((s) => s.op === "open"));
    } finally {
      await fake.close();
    }
  });

  it("names each failed forward of a batch and the cause the master printed for it", async () => {
    const fake = await startFakeMaster(failing([40002, 40005]));
    try {
      const batch = [f("127.0.0.1", 40001, "127.0.0.1", 22), f("127.0.0.1", 40002, "127.0.0.1", 22), f("::1", 40005), f("127.0.0.1", 40006)];
      const r = await muxOn(fake.path, { masterLog: logOf(MASTER_TEXT) }).forward(batch);
      assert.deepEqual(r.ok, [batch[0], batch[3]]);
      assert.deepEqual(r.failed.map((x) => [x.spec, x.failure.kind, x.portInUse]), [[batch[1], "port-in-use", true], [batch[2], "port-in-use", true]]);
      assert.match(r.failed[1]!.failure.message, /bind \[::1\]:40005: Address already in use/);
      assert.match(r.failed[0]!.reason, /local port 40002 is in use; find the owner with: lsof -nP -i :40002/);
    } finally {
      await fake.close();
    }
  });

  it("falls back to the master's answer when neither its log nor a bind probe names a cause", async () => {
    const fake = await startFakeMaster(failing([40007]));
    try {
      const r = await muxOn(fake.path, { masterLog: logOf("") }).forward([f("127.0.0.1", 40007)]);
      assert.equal(r.failed[0]!.failure.kind, "forward-failed");
      assert.equal(r.failed[0]!.reason, "forwarding request failed: Port forwarding failed");
    } finally {
      await fake.close();
    }
  });

  it("counts a cancel the master answers with \"port not forwarded\" as done", async () => {
    const fake = await startFakeMaster((r) => (r.forward.listenPort === 20001 ? { failure: "port not forwarded" } : { ok: true }));
    try {
      const r = await muxOn(fake.path).cancel(specs(4));
      assert.equal(r.ok.length, 4);
      assert.deepEqual(r.failed, []);
      assert.ok(fake.seen.every((s) => s.op === "close"));
    } finally {
      await fake.close();
    }
  });

  it("fails every forward as master-gone when the control socket does not exist", async () => {
    const mux = muxOn(join(tmpdir(), "rdhpf-no-such-dir", "ctl"));
    for (const r of [await mux.forward(specs(3)), await mux.cancel(specs(3))]) {
      assert.equal(r.ok.length, 0);
      assert.deepEqual(r.failed.map((x) => x.failure.kind), ["master-gone", "master-gone", "master-gone"]);
      assert.match(r.failed[0]!.reason, /cannot reach the control socket .*ENOENT.*rdhpf reconnects by itself/);
      assert.equal(r.failed[0]!.portInUse, false);
    }
  });

  it("fails the forwards left unanswered as master-gone when the master goes away in the middle", async () => {
    const fake = await startFakeMaster((r) => (r.forward.listenPort === 20001 ? "close" : { ok: true }));
    try {
      const r = await muxOn(fake.path).forward(specs(6));
      assert.deepEqual(r.ok, specs(2));
      assert.deepEqual(r.failed.map((x) => x.failure.kind), Array(4).fill("master-gone"));
    } finally {
      await fake.close();
    }
  });

  it("fails the forwards as timeout when the master stops answering, after opTimeoutMs", async () => {
    const fake = await startFakeMaster((r) => (r.forward.listenPort === 20000 ? { ok: true } : "silence"));
    try {
      const t0 = performance.now();
      const r = await muxOn(fake.path, { opTimeoutMs: 200 }).forward(specs(4));
      assert.ok(performance.now() - t0 < 1500);
      assert.deepEqual(r.ok, specs(2));
      assert.deepEqual(r.failed.map((x) => x.failure.kind), ["timeout", "timeout"]);
      assert.match(r.failed[0]!.failure.message, /no answer to a request on .* within 200 ms/);
    } finally {
      await fake.close();
    }
  });

  it("fails as timeout when the socket accepts but never says hello", async () => {
    const path = join(tmpdir(), `rdhpf-mute-${process.pid}.sock`);
    const mute: Server = createServer(() => {});
    await new Promise<void>((r) => mute.listen(path, r));
    try {
      const r = await muxOn(path, { opTimeoutMs: 200 }).forward(specs(1));
      assert.equal(r.failed[0]!.failure.kind, "timeout");
      assert.match(r.failed[0]!.failure.message, /no answer to the hello/);
    } finally {
      mute.close();
    }
  });

  it("sends a unix socket forward as a path pair and throws with the master's cause on failure", async () => {
    const fake = await startFakeMaster((r) => (r.forward.listenHost.endsWith("busy.sock") ? { failure: "Port forwarding failed" } : { ok: true }));
    try {
      const local = join(tmpdir(), `rdhpf-fwd-${process.pid}.sock`);
      const busy = join(tmpdir(), `rdhpf-fwd-${process.pid}-busy.sock`);
      const log = logOf(`unix_listener: cannot bind to path ${busy}: Address already in use\r\n`);
      const mux = muxOn(fake.path, { masterLog: log });
      await mux.forwardSocket(local, "/var/run/docker.sock");
      await mux.cancelSocket(local, "/var/run/docker.sock");
      assert.deepEqual(fake.seen.map((s) => [s.op, s.forward.listenHost, s.forward.listenPort, s.forward.connectHost]), [
        ["open", local, 0xfffffffe, "/var/run/docker.sock"],
        ["close", local, 0xfffffffe, "/var/run/docker.sock"],
      ]);
      await assert.rejects(mux.forwardSocket(busy, "/var/run/docker.sock"), (err: Error & { kind?: string }) => err.kind === "port-in-use" && /already exists/.test((err as { hint?: string }).hint ?? ""));
    } finally {
      await fake.close();
    }
  });
});
