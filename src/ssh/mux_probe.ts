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
import { muxExchange } from "./mux_client.ts";
import { encodeAliveCheck } from "./mux_protocol.ts";

/** What the probe found. */
export type MuxProbeResult =
  | { alive: true; pid: number }
  | { alive: false; reason: string };

/** Default deadline for each step of the exchange; the master answers in well under 1 ms when it is well. */
export const MUX_PROBE_TIMEOUT_MS = 5_000;

/**
 * Speaks hello + alive check on the control socket at `socketPath`.
 * Never throws: a missing socket, a refused connection, a foreign or
 * malformed answer and the deadline all come back as `alive: false`.
 */
export async function probeMaster(socketPath: string, timeoutMs = MUX_PROBE_TIMEOUT_MS): Promise<MuxProbeResult> {
  const { replies, broken } = await muxExchange(socketPath, [encodeAliveCheck], timeoutMs);
  const m = replies[0];
  if (broken || m === undefined) return { alive: false, reason: broken?.reason ?? "no answer to the alive check" };
  if (m.type === "alive") return { alive: true, pid: m.pid };
  if (m.type === "failure" || m.type === "permission-denied") return { alive: false, reason: `the master refused the alive check: ${m.reason}` };
  return { alive: false, reason: `unexpected answer to the alive check: ${m.type}` };
}
