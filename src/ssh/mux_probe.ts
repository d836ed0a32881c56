/**
 * Is the ControlMaster alive? Asked on its control socket in the mux
 * protocol itself (mux_protocol.ts): connect, exchange hellos, send an alive
 * check, read the master's pid. No process is started, so the health check
 * of a running session costs a few syscalls instead of an `ssh -O check`
 * (a fork and exec of ssh, ~5 ms wall and ~2-3 ms CPU each time).
 *
 * A master that accepts the connection but does not answer (hung, or
 * stopped with SIGSTOP) is caught by the deadline.
 *
 * @module
 */
import { createConnection } from "node:net";
import { decodeMessage, encodeAliveCheck, encodeHello, type MuxMessage, MUX_PROTOCOL_VERSION, MuxProtocolError, takeMessage } from "./mux_protocol.ts";

/** What the probe found. */
export type MuxProbeResult =
  | { alive: true; pid: number }
  | { alive: false; reason: string };

/** Default deadline for the whole exchange; the master answers in well under 1 ms when it is well. */
export const MUX_PROBE_TIMEOUT_MS = 5_000;

let nextRequestId = 1;

/**
 * Speaks hello + alive check on the control socket at `socketPath`.
 * Never throws: a missing socket, a refused connection, a foreign or
 * malformed answer and the deadline all come back as `alive: false`.
 */
export function probeMaster(socketPath: string, timeoutMs = MUX_PROBE_TIMEOUT_MS): Promise<MuxProbeResult> {
  return new Promise((resolve) => {
    const requestId = nextRequestId++ >>> 0;
    const sock = createConnection({ path: socketPath });
    let buf: Uint8Array = new Uint8Array(0);
    let sawHello = false;
    let settled = false;
    const done = (r: MuxProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ alive: false, reason: `no answer on ${socketPath} within ${timeoutMs} ms` }), timeoutMs);
    const onMessage = (m: MuxMessage): void => {
      if (!sawHello) {
        if (m.type !== "hello") return done({ alive: false, reason: `expected the master's hello, got ${describe(m)}` });
        if (m.version !== MUX_PROTOCOL_VERSION) return done({ alive: false, reason: `the master speaks mux protocol ${m.version}, rdhpf ${MUX_PROTOCOL_VERSION}` });
        sawHello = true;
        // The master reads the client's hello before any request: send them in that order.
        sock.write(encodeAliveCheck(requestId));
        return;
      }
      if (m.type === "alive" && m.requestId === requestId) return done({ alive: true, pid: m.pid });
      if (m.type === "failure" || m.type === "permission-denied") return done({ alive: false, reason: `the master refused the alive check: ${m.reason}` });
      done({ alive: false, reason: `unexpected answer to the alive check: ${describe(m)}` });
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
        done({ alive: false, reason: `not a mux answer on ${socketPath}: ${err.message}` });
      }
    });
    sock.on("error", (err: NodeJS.ErrnoException) => done({ alive: false, reason: `cannot reach the control socket ${socketPath}: ${err.code ?? err.message}` }));
    sock.on("close", () => done({ alive: false, reason: `the master closed the control connection on ${socketPath}` }));
  });
}

function describe(m: MuxMessage): string {
  return m.type === "other" ? `message type 0x${m.code.toString(16)}` : m.type;
}
