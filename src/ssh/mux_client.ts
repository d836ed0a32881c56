/**
 * Speaks OpenSSH's mux protocol (mux_protocol.ts) on the master's control
 * socket: connect, exchange hellos, send a batch of requests at once and
 * match each reply to its request by request id. No ssh process is started.
 *
 * Pipelining is safe: the master reads exactly one message per main-loop
 * iteration and never past its end (OpenSSH's channels.c,
 * channel_post_mux_client_read), so requests written together are answered
 * one by one, in order, each with its own reply.
 *
 * One connection per exchange, not a persistent one: connect plus the hello
 * round trip cost well under 1 ms here (measured, see mux.ts), a fresh connection
 * always reaches the current master (a persistent one would have to notice
 * a master restart or replacement and be reopened), and nothing can leak
 * between calls.
 *
 * A failure of the connection itself (no socket, refused, closed by the
 * master, no answer in time, not a mux socket) ends the exchange for every
 * request that has no reply yet: the caller maps it to a wholesale failure.
 *
 * @module
 */
import { createConnection } from "node:net";
import { decodeMessage, encodeHello, type MuxMessage, MUX_PROTOCOL_VERSION, MuxProtocolError, takeMessage } from "./mux_protocol.ts";

/** Why the exchange ended before every request had its reply. */
export interface MuxBroken {
  /** "timeout": the master accepted the connection but stopped answering; "gone": anything else. */
  kind: "gone" | "timeout";
  reason: string;
}

/** What came back: `replies[i]` answers request i; missing ones are explained by `broken`. */
export interface MuxExchange {
  replies: Array<MuxMessage | undefined>;
  broken: MuxBroken | null;
}

/** Builds a request's bytes around the request id the client assigns. */
export type MuxRequest = (requestId: number) => Uint8Array;

let nextRequestId = 1;

/** Request ids unique within this process, so a reply can never be matched to the wrong request. */
function takeRequestId(): number {
  const id = nextRequestId;
  nextRequestId = nextRequestId >= 0xffffffff ? 1 : nextRequestId + 1;
  return id;
}

function requestIdOf(m: MuxMessage): number | null {
  return "requestId" in m ? m.requestId : null;
}

/**
 * Sends `requests` over one connection to the master at `socketPath`.
 * `timeoutMs` bounds the wait for each step: the hello, then each next reply.
 * Never throws.
 */
export function muxExchange(socketPath: string, requests: readonly MuxRequest[], timeoutMs: number): Promise<MuxExchange> {
  return new Promise((resolve) => {
    const ids = requests.map(() => takeRequestId());
    const indexOf = new Map(ids.map((id, i) => [id, i]));
    const replies: Array<MuxMessage | undefined> = new Array(requests.length).fill(undefined);
    let pending = requests.length;
    let buf: Uint8Array = new Uint8Array(0);
    let sawHello = false;
    let settled = false;
    const sock = createConnection({ path: socketPath });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (broken: MuxBroken | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ replies, broken });
    };
    const armTimer = (what: string): void => {
      clearTimeout(timer);
      timer = setTimeout(() => done({ kind: "timeout", reason: `no answer to ${what} on ${socketPath} within ${timeoutMs} ms` }), timeoutMs);
    };
    armTimer("the hello");

    const onMessage = (m: MuxMessage): void => {
      if (!sawHello) {
        if (m.type !== "hello") return done({ kind: "gone", reason: `expected the master's hello on ${socketPath}, got ${describe(m)}` });
        if (m.version !== MUX_PROTOCOL_VERSION) return done({ kind: "gone", reason: `the master on ${socketPath} speaks mux protocol ${m.version}, rdhpf ${MUX_PROTOCOL_VERSION}` });
        sawHello = true;
        if (pending === 0) return done(null);
        // The master reads the client's hello (sent on connect) before any request.
        const bytes = requests.map((encode, i) => encode(ids[i]!));
        const joined = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
        bytes.reduce((offset, b) => (joined.set(b, offset), offset + b.length), 0);
        sock.write(joined);
        armTimer("a request");
        return;
      }
      const id = requestIdOf(m);
      const i = id === null ? undefined : indexOf.get(id);
      if (i === undefined || replies[i] !== undefined) return done({ kind: "gone", reason: `unexpected answer from the master on ${socketPath}: ${describe(m)}` });
      replies[i] = m;
      pending--;
      if (pending === 0) return done(null);
      armTimer("a request");
    };

    sock.on("connect", () => sock.write(encodeHello()));
    sock.on("data", (chunk: Uint8Array) => {
      const joined = new Uint8Array(buf.length + chunk.length);
      joined.set(buf);
      joined.set(chunk, buf.length);
      buf = joined;
      try {
        for (let m = takeMessage(buf); m && !settled; m = takeMessage(buf)) {
          buf = m.rest;
          onMessage(decodeMessage(m.payload));
        }
      } catch (err) {
        if (!(err instanceof MuxProtocolError)) throw err;
        done({ kind: "gone", reason: `not a mux answer on ${socketPath}: ${err.message}` });
      }
    });
    sock.on("error", (err: NodeJS.ErrnoException) => done({ kind: "gone", reason: `cannot reach the control socket ${socketPath}: ${err.code ?? err.message}` }));
    sock.on("close", () => done({ kind: "gone", reason: `the master closed the control connection on ${socketPath}` }));
  });
}

function describe(m: MuxMessage): string {
  return m.type === "other" ? `message type 0x${m.code.toString(16)}` : m.type;
}
