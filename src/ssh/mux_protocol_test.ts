import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { muxForward, muxSocketForward, type LocalForward } from "./argv.ts";
import { startFakeMaster } from "./_fake_mux_master.ts";
import {
  decodeMessage,
  encodeAliveCheck,
  encodeCloseForward,
  encodeHello,
  encodeOpenForward,
  MAX_MESSAGE_BYTES,
  type MuxMessage,
  MuxProtocolError,
  takeMessage,
} from "./mux_protocol.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s/g, ""), "hex"));

describe("mux protocol encoding (PROTOCOL.mux)", () => {
  it("sends hello as length 8, MUX_MSG_HELLO, version 4", () => {
    assert.equal(hex(encodeHello()), "00000008" + "00000001" + "00000004");
  });
  it("sends an alive check as length 8, MUX_C_ALIVE_CHECK, request id", () => {
    assert.equal(hex(encodeAliveCheck(7)), "00000008" + "10000004" + "00000007");
    assert.equal(hex(encodeAliveCheck(0xffffffff)), "00000008" + "10000004" + "ffffffff");
  });

  // The expected bytes are what OpenSSH 9.2's `ssh -O forward/cancel -L` sent
  // (captured from a socket standing in for the master), request id aside.
  it("sends an open of [::1]:5432 -> 127.0.0.1:80 as ssh -O forward does: the address without brackets", () => {
    const f: LocalForward = { bindAddress: "::1", localPort: 5432, remoteHost: "127.0.0.1", remotePort: 80 };
    assert.equal(
      hex(encodeOpenForward(0, muxForward(f))),
      "00000028" + "10000006" + "00000000" + "00000001" + "00000003 3a3a31 00001538 00000009 3132372e302e302e31 00000050".replace(/ /g, ""),
    );
  });
  it("sends a close of 127.0.0.1:5432 -> [fd00::2]:80 as ssh -O cancel does", () => {
    const f: LocalForward = { bindAddress: "127.0.0.1", localPort: 5432, remoteHost: "fd00::2", remotePort: 80 };
    assert.equal(
      hex(encodeCloseForward(0, muxForward(f))),
      "0000002c" + "10000007" + "00000000" + "00000001" + "00000009 3132372e302e302e31 00001538 00000007 666430303a3a32 00000050".replace(/ /g, ""),
    );
  });
  it("sends a unix socket forward with both ports PORT_STREAMLOCAL ((uint32)-2)", () => {
    assert.equal(
      hex(encodeOpenForward(1, muxSocketForward("/tmp/a.sock", "/var/run/docker.sock"))),
      "0000003b" + "10000006" + "00000001" + "00000001" + "0000000b 2f746d702f612e736f636b fffffffe 00000014 2f7661722f72756e2f646f636b65722e736f636b fffffffe".replace(/ /g, ""),
    );
  });
});

/** Runs the real ssh client against `socketPath`; resolves with its exit code. */
function sshMuxClient(socketPath: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", ["-F", "/dev/null", "-S", socketPath, "-o", "ControlMaster=no", "-o", "BatchMode=yes", ...args, "--", "unused"], { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

describe("forward requests byte for byte against the installed ssh client", () => {
  const specs: Array<[string, LocalForward]> = [
    ["127.0.0.1:40001:127.0.0.1:80", { bindAddress: "127.0.0.1", localPort: 40001, remoteHost: "127.0.0.1", remotePort: 80 }],
    ["[::1]:40001:127.0.0.1:80", { bindAddress: "::1", localPort: 40001, remoteHost: "127.0.0.1", remotePort: 80 }],
    ["[::1]:40002:[fd00::2]:8080", { bindAddress: "::1", localPort: 40002, remoteHost: "fd00::2", remotePort: 8080 }],
    ["0.0.0.0:40003:db.internal:5432", { bindAddress: "0.0.0.0", localPort: 40003, remoteHost: "db.internal", remotePort: 5432 }],
  ];
  for (const op of ["forward", "cancel"] as const) {
    it(`rdhpf's ${op} requests equal ssh -O ${op}'s, apart from the request id`, async () => {
      const fake = await startFakeMaster(() => ({ ok: true }));
      try {
        const code = await sshMuxClient(fake.path, ["-O", op, ...specs.flatMap(([spec]) => ["-L", spec]), "-L", "/tmp/rdhpf-a.sock:/var/run/docker.sock"]);
        assert.equal(code, 0);
        const encode = op === "forward" ? encodeOpenForward : encodeCloseForward;
        const ours = [...specs.map(([, f]) => muxForward(f)), muxSocketForward("/tmp/rdhpf-a.sock", "/var/run/docker.sock")];
        assert.equal(fake.seen.length, ours.length);
        fake.seen.forEach((seen, i) => assert.equal(hex(encode(seen.requestId, ours[i]!)), seen.bytes.toString("hex"), `request ${i}`));
      } finally {
        await fake.close();
      }
    });
  }
});

describe("takeMessage", () => {
  const cases: Array<[string, string, { payload: string; rest: string } | null]> = [
    ["waits for the length", "000000", null],
    ["waits for the rest of the message", "00000008 00000001 0000", null],
    ["splits one message off", "00000008 00000001 00000004", { payload: "0000000100000004", rest: "" }],
    ["keeps the bytes of the next message", "00000008 00000001 00000004 0000", { payload: "0000000100000004", rest: "0000" }],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      const got = takeMessage(bytes(input));
      assert.deepEqual(got && { payload: hex(got.payload), rest: hex(got.rest) }, want);
    });
  }
  it("refuses a length no master sends (not a mux socket)", () => {
    assert.throws(() => takeMessage(bytes("48545450")), MuxProtocolError); // "HTTP"
    assert.throws(() => takeMessage(bytes("00000002")), MuxProtocolError);
    const big = new Uint8Array(4);
    new DataView(big.buffer).setUint32(0, MAX_MESSAGE_BYTES + 1);
    assert.throws(() => takeMessage(big), MuxProtocolError);
  });
});

describe("decodeMessage", () => {
  const cases: Array<[string, string, MuxMessage]> = [
    ["the master's hello", "00000001 00000004", { type: "hello", version: 4, extensions: [] }],
    ["a hello with an extension", "00000001 00000004 00000001 61 00000002 6263", { type: "hello", version: 4, extensions: [["a", "bc"]] }],
    ["a hello of another version", "00000001 00000003", { type: "hello", version: 3, extensions: [] }],
    ["MUX_S_ALIVE with request id and pid", "80000005 00000007 00003039", { type: "alive", requestId: 7, pid: 12345 }],
    ["MUX_S_PERMISSION_DENIED with its reason", "80000002 00000007 00000004 6e6f7065", { type: "permission-denied", requestId: 7, reason: "nope" }],
    ["MUX_S_FAILURE with its reason", "80000003 00000001 00000003 626164", { type: "failure", requestId: 1, reason: "bad" }],
    ["MUX_S_OK with its request id", "80000001 00000009", { type: "ok", requestId: 9 }],
    ["a message rdhpf does not use", "80000006 00000001", { type: "other", code: 0x80000006 }],
  ];
  for (const [name, input, want] of cases) {
    it(`reads ${name}`, () => assert.deepEqual(decodeMessage(bytes(input)), want));
  }
  const malformed: Array<[string, string]> = [
    ["an alive answer without the pid", "80000005 00000007"],
    ["an OK without its request id", "80000001"],
    ["a hello without a version", "00000001"],
    ["a reason longer than the message", "80000003 00000001 00000009 6261"],
    ["an extension without a value", "00000001 00000004 00000001 61"],
  ];
  for (const [name, input] of malformed) {
    it(`refuses ${name}`, () => assert.throws(() => decodeMessage(bytes(input)), MuxProtocolError));
  }
});
