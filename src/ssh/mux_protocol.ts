/**
 * The few messages of OpenSSH's multiplexing protocol that rdhpf speaks
 * itself on the master's control socket, to ask "are you alive?" without
 * starting an ssh process (mux_probe.ts). Pure: bytes in, messages out.
 *
 * Wire format (OpenSSH's PROTOCOL.mux): every message is
 * `uint32 length, uint32 type, body`, big-endian, the length counting type
 * and body. Both sides first send MUX_MSG_HELLO with the protocol version
 * (4 since OpenSSH 5.x); then a client may send MUX_C_ALIVE_CHECK with a
 * request id, answered by MUX_S_ALIVE with that id and the master's pid.
 * A `string` is a uint32 length and that many bytes.
 *
 * @module
 */

/** The mux protocol version rdhpf speaks; a master with another one is refused (PROTOCOL.mux §1). */
export const MUX_PROTOCOL_VERSION = 4;

/** Message types (PROTOCOL.mux §11). */
export const MUX_MSG_HELLO = 0x00000001;
export const MUX_C_ALIVE_CHECK = 0x10000004;
export const MUX_S_PERMISSION_DENIED = 0x80000002;
export const MUX_S_FAILURE = 0x80000003;
export const MUX_S_ALIVE = 0x80000005;

/**
 * A master's answers here are a few dozen bytes; a length beyond this means
 * the socket does not speak the mux protocol, and reading on would only
 * buffer garbage.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** A message from the master, as far as rdhpf understands it. */
export type MuxMessage =
  | { type: "hello"; version: number; extensions: Array<[string, string]> }
  | { type: "alive"; requestId: number; pid: number }
  | { type: "permission-denied" | "failure"; requestId: number; reason: string }
  | { type: "other"; code: number };

/** The bytes do not follow the mux protocol. */
export class MuxProtocolError extends Error {}

function message(type: number, body: number[]): Uint8Array {
  const out = new Uint8Array(8 + body.length * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, 4 + body.length * 4);
  view.setUint32(4, type);
  body.forEach((v, i) => view.setUint32(8 + i * 4, v));
  return out;
}

/** The client's hello: protocol version 4, no extensions. */
export function encodeHello(): Uint8Array {
  return message(MUX_MSG_HELLO, [MUX_PROTOCOL_VERSION]);
}

/** An alive check; the master echoes `requestId` in its MUX_S_ALIVE. */
export function encodeAliveCheck(requestId: number): Uint8Array {
  return message(MUX_C_ALIVE_CHECK, [requestId >>> 0]);
}

/**
 * Splits the first complete message off `buf`: its payload (type and body)
 * and the bytes after it; null while the message is still incomplete.
 * Throws MuxProtocolError for a length no master sends.
 */
export function takeMessage(buf: Uint8Array): { payload: Uint8Array; rest: Uint8Array } | null {
  if (buf.length < 4) return null;
  const length = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0);
  if (length < 4 || length > MAX_MESSAGE_BYTES) throw new MuxProtocolError(`a mux message of ${length} bytes (expected 4..${MAX_MESSAGE_BYTES})`);
  if (buf.length < 4 + length) return null;
  return { payload: buf.subarray(4, 4 + length), rest: buf.subarray(4 + length) };
}

/** Reads big-endian uint32s and strings off a payload, failing on a short one. */
class Reader {
  private offset = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get done(): boolean {
    return this.offset >= this.bytes.length;
  }
  u32(what: string): number {
    if (this.offset + 4 > this.bytes.length) throw new MuxProtocolError(`a mux message cut short before its ${what}`);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }
  string(what: string): string {
    const length = this.u32(`${what}'s length`);
    if (this.offset + length > this.bytes.length) throw new MuxProtocolError(`a mux message cut short inside its ${what}`);
    const s = new TextDecoder().decode(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return s;
  }
}

/** Decodes one payload from `takeMessage`. Throws MuxProtocolError when a known message is malformed. */
export function decodeMessage(payload: Uint8Array): MuxMessage {
  const r = new Reader(payload);
  const code = r.u32("type");
  switch (code) {
    case MUX_MSG_HELLO: {
      const version = r.u32("version");
      const extensions: Array<[string, string]> = [];
      while (!r.done) extensions.push([r.string("extension name"), r.string("extension value")]);
      return { type: "hello", version, extensions };
    }
    case MUX_S_ALIVE:
      return { type: "alive", requestId: r.u32("request id"), pid: r.u32("pid") };
    case MUX_S_PERMISSION_DENIED:
    case MUX_S_FAILURE:
      return { type: code === MUX_S_FAILURE ? "failure" : "permission-denied", requestId: r.u32("request id"), reason: r.string("reason") };
    default:
      return { type: "other", code };
  }
}
