/**
 * Tries a TCP connection through a forward, the way a test suite would.
 *
 * A bare connect() proves little: ssh accepts on the local port whatever the
 * remote end does, and only closes the accepted socket when the channel open
 * fails (nothing listens remotely; Docker's proxy closes it at once when the
 * container's process is not listening yet). So the connection must also
 * stay open for a short hold, or bring data (a server banner), to count.
 *
 * @module
 */
import { connect } from "node:net";
import { hostPort } from "../address.ts";
import type { ProbeOutcome } from "./readiness.ts";

/** Options of `probeThroughTunnel`. */
export interface ProbeOptions {
  /**
   * How long the connection must stay open to count: about one round trip
   * through the SSH connection plus the remote proxy's connect.
   */
  holdMs?: number;
  connectTimeoutMs?: number;
}

export const DEFAULT_PROBE_HOLD_MS = 200;
const DEFAULT_CONNECT_TIMEOUT_MS = 1000;

/** Connects to address:port; ok when the connection survives the hold or receives data. */
export function probeThroughTunnel(address: string, port: number, opts: ProbeOptions = {}): Promise<ProbeOutcome> {
  const holdMs = opts.holdMs ?? DEFAULT_PROBE_HOLD_MS;
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const where = hostPort(address, port);
  return new Promise((resolve) => {
    let connected = false;
    let done = false;
    const socket = connect({ host: address, port });
    const finish = (outcome: ProbeOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    let timer = setTimeout(() => finish({ ok: false, reason: `connecting to ${where} timed out after ${connectTimeoutMs} ms` }), connectTimeoutMs);
    socket.on("connect", () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => finish({ ok: true }), holdMs);
    });
    socket.on("data", () => finish({ ok: true }));
    socket.on("end", () => finish({ ok: false, reason: `${where} accepted, then the tunnel closed the connection: nothing answers on the remote end yet` }));
    socket.on("close", () => finish({ ok: false, reason: `${where} closed the connection at once` }));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (!connected && err.code === "ECONNREFUSED") finish({ ok: false, reason: `nothing listens on ${where}` });
      else finish({ ok: false, reason: `${where}: ${err.code ?? err.message}` });
    });
  });
}
