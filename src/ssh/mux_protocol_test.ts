import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeMessage, encodeAliveCheck, encodeHello, MAX_MESSAGE_BYTES, type MuxMessage, MuxProtocolError, takeMessage } from "./mux_protocol.ts";

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
    ["a message rdhpf does not use", "80000001 00000001", { type: "other", code: 0x80000001 }],
  ];
  for (const [name, input, want] of cases) {
    it(`reads ${name}`, () => assert.deepEqual(decodeMessage(bytes(input)), want));
  }
  const malformed: Array<[string, string]> = [
    ["an alive answer without the pid", "80000005 00000007"],
    ["a hello without a version", "00000001"],
    ["a reason longer than the message", "80000003 00000001 00000009 6261"],
    ["an extension without a value", "00000001 00000004 00000001 61"],
  ];
  for (const [name, input] of malformed) {
    it(`refuses ${name}`, () => assert.throws(() => decodeMessage(bytes(input)), MuxProtocolError));
  }
});
