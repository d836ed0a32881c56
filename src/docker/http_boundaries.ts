/**
 * Where the HTTP/1.1 messages of one Docker API connection begin and end, as
 * its bytes pass by: the request heads (method, target) and the response
 * heads (status) in order, so that a relay can tell which response answers
 * which request. It only observes; the bytes themselves go on unchanged.
 *
 * It reads what it must (request line, status line, headers, Content-Length
 * and chunked bodies), skips the bodies by counting, and gives up on
 * anything else: an upgraded or hijacked stream (101, `Upgrade:`, Docker's
 * raw-stream attach without an upgrade), a body that runs to the close, a
 * head too large, or bytes that are not HTTP/1.x. Once given up, the
 * connection stays "passthrough" for good in both directions: the relay
 * then carries bytes as before, and nothing is ever held on it.
 *
 * Pure and incremental: a message may be cut anywhere between chunks.
 *
 * @module
 */

/** A request head, as far as the relay needs it. */
export interface RequestHead {
  method: string;
  /** The request target as sent, e.g. `/v1.47/containers/web/start`. */
  target: string;
}

/** What `push` saw in one chunk; `at` is the offset in that chunk just after the thing seen. */
export type BoundaryEvent =
  | { kind: "request"; at: number; head: RequestHead }
  /** A complete response head; `start` is its first byte's offset in this chunk, or -1 when it began in an earlier one. */
  | { kind: "response"; at: number; start: number; status: number; request: RequestHead }
  /** The end of a response (its body included). */
  | { kind: "response-end"; at: number }
  /** Parsing stopped for good: from `at` on, this direction (and the other) is only carried. */
  | { kind: "passthrough"; at: number; reason: string };

/** A head (line + headers) larger than this is not a Docker API message rdhpf understands. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line longer than this is not one (hex digits and a short extension). */
const MAX_CHUNK_LINE_BYTES = 1024;

const CR = 0x0d;
const LF = 0x0a;

type Body =
  | { kind: "none" }
  | { kind: "length"; left: number }
  | { kind: "chunked" };

/** The body framing of one direction, chunk by chunk (RFC 9112 §7.1). */
type ChunkState =
  | { at: "size"; line: number[] }
  | { at: "data"; left: number }
  | { at: "data-crlf"; seen: number }
  | { at: "trailer"; line: number[]; blank: boolean };

/** One direction's state: reading a head, or skipping a body. */
interface Direction {
  head: number[];
  /** The first byte of the head now being read is in the current chunk at this offset (-1: an earlier chunk). */
  headStart: number;
  body: Body;
  chunk: ChunkState;
}

const newDirection = (): Direction => ({ head: [], headStart: -1, body: { kind: "none" }, chunk: { at: "size", line: [] } });

/** Both directions of one client connection. */
export class HttpBoundaries {
  #passthrough: string | null = null;
  readonly #requests: RequestHead[] = [];
  /** A request that asked for an upgrade: no more requests are read after it. */
  #upgradeAsked = false;
  #client = newDirection();
  #engine = newDirection();

  /** Null while parsing; the reason once the connection is only carried. */
  get passthrough(): string | null {
    return this.#passthrough;
  }

  /** Observes bytes from the client (requests). */
  fromClient(chunk: Uint8Array): BoundaryEvent[] {
    const events: BoundaryEvent[] = [];
    if (this.#passthrough !== null) return events;
    const d = this.#client;
    let i = 0;
    d.headStart = d.head.length === 0 ? 0 : -1;
    while (i < chunk.length && this.#passthrough === null) {
      if (d.body.kind !== "none") {
        i = skipBody(d, chunk, i, (why) => this.#stop(events, i, why));
        if (bodyDone(d) && this.#upgradeAsked) this.#stop(events, i, "request asked for an upgrade");
        continue;
      }
      if (this.#upgradeAsked) {
        this.#stop(events, i, "request asked for an upgrade");
        break;
      }
      const end = readHead(d, chunk, i);
      if (end === -1) {
        if (d.head.length > MAX_HEAD_BYTES) this.#stop(events, i, "request head too large");
        break;
      }
      const head = parseRequest(d.head);
      d.head = [];
      if (typeof head === "string") {
        this.#stop(events, i, head);
        break;
      }
      i = end;
      d.headStart = i;
      this.#requests.push(head.request);
      events.push({ kind: "request", at: i, head: head.request });
      d.body = head.body;
      if (head.upgrade) this.#upgradeAsked = true;
      if (d.body.kind === "none" && this.#upgradeAsked) this.#stop(events, i, "request asked for an upgrade");
    }
    return events;
  }

  /** Observes bytes from the Engine (responses). */
  fromEngine(chunk: Uint8Array): BoundaryEvent[] {
    const events: BoundaryEvent[] = [];
    if (this.#passthrough !== null) return events;
    const d = this.#engine;
    let i = 0;
    d.headStart = d.head.length === 0 ? 0 : -1;
    while (i < chunk.length && this.#passthrough === null) {
      if (d.body.kind !== "none") {
        i = skipBody(d, chunk, i, (why) => this.#stop(events, i, why));
        if (bodyDone(d) && this.#passthrough === null) {
          this.#requests.shift();
          events.push({ kind: "response-end", at: i });
          d.headStart = i;
        }
        continue;
      }
      const request = this.#requests[0];
      if (!request) {
        this.#stop(events, i, "response without a request");
        break;
      }
      const start = d.headStart;
      const end = readHead(d, chunk, i);
      if (end === -1) {
        if (d.head.length > MAX_HEAD_BYTES) this.#stop(events, i, "response head too large");
        break;
      }
      const head = parseResponse(d.head, request);
      d.head = [];
      if (typeof head === "string") {
        this.#stop(events, i, head);
        break;
      }
      i = end;
      d.headStart = i;
      events.push({ kind: "response", at: i, start, status: head.status, request });
      if (head.body === "passthrough") {
        this.#stop(events, i, head.reason);
        break;
      }
      if (head.status >= 100 && head.status < 200) continue; // interim (100 Continue): the final response follows
      d.body = head.body;
      if (d.body.kind === "none") {
        this.#requests.shift();
        events.push({ kind: "response-end", at: i });
      }
    }
    return events;
  }

  #stop(events: BoundaryEvent[], at: number, reason: string): void {
    if (this.#passthrough !== null) return;
    this.#passthrough = reason;
    events.push({ kind: "passthrough", at, reason });
  }
}

/** Read apart so that the narrowing of `d.body` before `skipBody` does not outlive that call. */
const bodyDone = (d: Direction): boolean => d.body.kind === "none";

/** Appends head bytes from `chunk[i..]`; returns the offset after the blank line, or -1 if the head goes on. */
function readHead(d: Direction, chunk: Uint8Array, i: number): number {
  for (let j = i; j < chunk.length; j++) {
    const b = chunk[j]!;
    // Empty lines before a message are ignored (RFC 9112 §2.2).
    if (d.head.length === 0 && (b === CR || b === LF)) continue;
    d.head.push(b);
    const n = d.head.length;
    if (b === LF && (d.head[n - 2] === LF || (d.head[n - 2] === CR && d.head[n - 3] === LF))) return j + 1;
    if (n > MAX_HEAD_BYTES) return -1;
  }
  return -1;
}

/** Skips body bytes from `chunk[i..]`; returns the offset it got to. Sets `d.body` to none at the body's end. */
function skipBody(d: Direction, chunk: Uint8Array, i: number, stop: (reason: string) => void): number {
  const body = d.body;
  if (body.kind === "length") {
    const n = Math.min(body.left, chunk.length - i);
    body.left -= n;
    if (body.left === 0) d.body = { kind: "none" };
    return i + n;
  }
  if (body.kind !== "chunked") return i;
  while (i < chunk.length) {
    const c = d.chunk;
    if (c.at === "data") {
      const n = Math.min(c.left, chunk.length - i);
      c.left -= n;
      i += n;
      if (c.left === 0) d.chunk = { at: "data-crlf", seen: 0 };
      continue;
    }
    const b = chunk[i++]!;
    if (c.at === "data-crlf") {
      if ((c.seen === 0 && b === CR) || b === LF) {
        c.seen++;
        if (b === LF) d.chunk = { at: "size", line: [] };
        continue;
      }
      stop("chunk data not followed by CRLF");
      return i;
    }
    if (b !== LF) {
      c.line.push(b);
      if (c.line.length > MAX_CHUNK_LINE_BYTES) {
        stop("chunk line too long");
        return i;
      }
      continue;
    }
    const line = latin1(c.line).replace(/\r$/, "");
    if (c.at === "size") {
      const m = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(line);
      if (!m) {
        stop("bad chunk size line");
        return i;
      }
      const size = parseInt(m[1]!, 16);
      d.chunk = size === 0 ? { at: "trailer", line: [], blank: true } : { at: "data", left: size };
      continue;
    }
    // Trailer section: header lines until an empty one.
    if (line === "") {
      d.chunk = { at: "size", line: [] };
      d.body = { kind: "none" };
      return i;
    }
    d.chunk = { at: "trailer", line: [], blank: false };
  }
  return i;
}

/** One char per byte; in slices, since a head may hold more bytes than a call takes arguments. */
function latin1(bytes: number[]): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.slice(i, i + 8192));
  return text;
}

interface Headers { lines: string[]; get(name: string): string[] }

function headerLines(head: number[]): Headers | string {
  // Header bytes are ASCII in practice; latin1 keeps one char per byte.
  const text = latin1(head);
  const lines = text.replace(/\r?\n\r?\n$/, "").split(/\r?\n/);
  const fields = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) return `malformed header line`;
    const name = m[1]!.toLowerCase();
    fields.set(name, [...(fields.get(name) ?? []), m[2]!]);
  }
  return { lines, get: (name) => fields.get(name) ?? [] };
}

/** The body framing the headers announce; a string when they announce something this parser does not read. */
function framing(h: Headers): Body | string {
  const te = h.get("transfer-encoding").join(",").toLowerCase().split(",").map((s) => s.trim()).filter(Boolean);
  if (te.length > 0) {
    if (te.length === 1 && te[0] === "chunked") return { kind: "chunked" };
    return `transfer-encoding ${te.join(",")}`;
  }
  const cl = h.get("content-length");
  if (cl.length === 0) return { kind: "none" };
  const values = new Set(cl.join(",").split(",").map((s) => s.trim()));
  const [v] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(v!)) return "bad content-length";
  const left = Number(v);
  return left === 0 ? { kind: "none" } : { kind: "length", left };
}

const tokens = (values: string[]) => values.join(",").toLowerCase().split(",").map((s) => s.trim());

function parseRequest(head: number[]): { request: RequestHead; body: Body; upgrade: boolean } | string {
  const h = headerLines(head);
  if (typeof h === "string") return `request: ${h}`;
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(h.lines[0]!);
  if (!m) return "not an HTTP/1.x request";
  const body = framing(h);
  if (typeof body === "string") return `request: ${body}`;
  const upgrade = h.get("upgrade").length > 0 || tokens(h.get("connection")).includes("upgrade") || m[1] === "CONNECT";
  return { request: { method: m[1]!, target: m[2]! }, body, upgrade };
}

/** Docker's hijacked streams without an upgrade (API < 1.42 clients, `attach` without `Upgrade:`). */
const HIJACK_TYPES = ["application/vnd.docker.raw-stream", "application/vnd.docker.multiplexed-stream"];

function parseResponse(head: number[], request: RequestHead): { status: number; body: Body | "passthrough"; reason: string } | string {
  const h = headerLines(head);
  if (typeof h === "string") return `response: ${h}`;
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(h.lines[0]!);
  if (!m) return "not an HTTP/1.x response";
  const status = Number(m[1]);
  if (status === 101) return { status, body: "passthrough", reason: "switched protocols" };
  if (status >= 100 && status < 200) return { status, body: { kind: "none" }, reason: "" };
  if (request.method === "HEAD" || status === 204 || status === 304) return { status, body: { kind: "none" }, reason: "" };
  if (request.method === "CONNECT" && status < 300) return { status, body: "passthrough", reason: "tunnel" };
  const body = framing(h);
  if (typeof body === "string") return `response: ${body}`;
  const type = (h.get("content-type")[0] ?? "").toLowerCase();
  const framed = body.kind !== "none" || h.get("content-length").length > 0;
  if (!framed && HIJACK_TYPES.some((t) => type.startsWith(t))) return { status, body: "passthrough", reason: "hijacked stream" };
  // Neither a length nor chunked: the body runs until the connection closes.
  if (!framed) {
    return { status, body: "passthrough", reason: "body until close" };
  }
  return { status, body, reason: "" };
}
