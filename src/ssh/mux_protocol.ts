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
 * Forwards (PROTOCOL.mux §5; OpenSSH's mux.c, mux_client_forward and
 * mux_master_process_open_fwd/_close_fwd): MUX_C_OPEN_FWD / MUX_C_CLOSE_FWD
 * carry request id, forward type (MUX_FWD_LOCAL), listen host, listen port,
 * connect host, connect port; a port of PORT_STREAMLOCAL makes its host
 * string a unix socket path. The master answers MUX_S_OK, or MUX_S_FAILURE
 * with a reason ("Port forwarding failed", "port not forwarded"). It finds
 * the forward to close, and an already open one, by comparing these strings
 * byte for byte with those of the open, so they must be exactly what
 * `ssh -O forward -L` sends for the same spec: the address without IPv6
 * brackets, the connect host as given.
 *
 * @module
 */

/** The mux protocol version rdhpf speaks; a master with another one is refused (PROTOCOL.mux §1). */
export const MUX_PROTOCOL_VERSION = 4;

/** Message types (PROTOCOL.mux §11). */
export const MUX_MSG_HELLO = 0x00000001;
export const MUX_C_ALIVE_CHECK = 0x10000004;
export const MUX_C_OPEN_FWD = 0x10000006;
export const MUX_C_CLOSE_FWD = 0x10000007;
export const MUX_S_OK = 0x80000001;
export const MUX_S_PERMISSION_DENIED = 0x80000002;
export const MUX_S_FAILURE = 0x80000003;
export const MUX_S_ALIVE = 0x80000005;

/** Forward type of a local (-L) forward. */
export const MUX_FWD_LOCAL = 1;
/** A "port" that makes its host string a unix socket path: (uint32)-2 (OpenSSH's misc.h). */
export const PORT_STREAMLOCAL = 0xfffffffe;

/**
 * A master's answers here are a few dozen bytes; a length beyond this means
 * the socket does not speak the mux protocol, and reading on would only
 * buffer garbage.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** A message from the master, as far as rdhpf understands it. */
export type MuxMessage =
  | { type: "hello"; version: number; extensions: Array<[string, string]> }
  | { type: "ok"; requestId: number }
  | { type: "alive"; requestId: number; pid: number }
  | { type: "permission-denied" | "failure"; requestId: number; reason: string }
  | { type: "other"; code: number };

/** The bytes do not follow the mux protocol. */
export class MuxProtocolError extends Error {}

/** A body field: a uint32, or a string (uint32 length + UTF-8 bytes). */
type Field = number | string;

function message(type: number, body: Field[]): Uint8Array {
  const encoded = body.map((f) => (typeof f === "number" ? f : new TextEncoder().encode(f)));
  const bodyBytes = encoded.reduce<number>((n, f) => n + (typeof f === "number" ? 4 : 4 + f.length), 0);
  const out = new Uint8Array(8 + bodyBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, 4 + bodyBytes);
  view.setUint32(4, type);
  let offset = 8;
  for (const f of encoded) {
    if (typeof f === "number") {
      view.setUint32(offset, f >>> 0);
      offset += 4;
    } else {
      view.setUint32(offset, f.length);
      out.set(f, offset + 4);
      offset += 4 + f.length;
    }
  }
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
 * One local forward as the master sees it: a TCP address and port, or a
 * unix socket path with the port PORT_STREAMLOCAL, on each side.
 */
export interface MuxForward {
  listenHost: string;
  listenPort: number;
  connectHost: string;
  connectPort: number;
}

function forwardBody(requestId: number, f: MuxForward): Field[] {
  return [requestId >>> 0, MUX_FWD_LOCAL, f.listenHost, f.listenPort, f.connectHost, f.connectPort];
}

/** Asks the master to open a local forward; answered by MUX_S_OK or MUX_S_FAILURE with `requestId`. */
export function encodeOpenForward(requestId: number, f: MuxForward): Uint8Array {
  return message(MUX_C_OPEN_FWD, forwardBody(requestId, f));
}

/** Asks the master to close a local forward it holds (same strings as the open). */
export function encodeCloseForward(requestId: number, f: MuxForward): Uint8Array {
  return message(MUX_C_CLOSE_FWD, forwardBody(requestId, f));
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
    case MUX_S_OK:
      return { type: "ok", requestId: r.u32("request id") };
    case MUX_S_ALIVE:
      return { type: "alive", requestId: r.u32("request id"), pid: r.u32("pid") };
    case MUX_S_PERMISSION_DENIED:
    case MUX_S_FAILURE:
      return { type: code === MUX_S_FAILURE ? "failure" : "permission-denied", requestId: r.u32("request id"), reason: r.string("reason") };
    default:
      return { type: "other", code };
  }
}
