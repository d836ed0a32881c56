/**
 * Whether something accepts a connection: one answer for the doctor (the
 * agent's unix socket) and the daemon (is the network path to the host back).
 *
 * @module
 */
import { connect, type NetConnectOpts } from "node:net";

/** True when a connection to `to` completes within `timeoutMs`. Sends no data and closes at once. */
export function connects(to: NetConnectOpts, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(to);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
