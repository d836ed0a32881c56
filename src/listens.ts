/**
 * Whether this machine lets us listen on an address and port: one answer
 * for the conflict probe (is a local port free?), the mux (why did ssh's
 * forward fail?) and start-up (is there an IPv6 loopback?). It asks the way
 * ssh's own bind() will: listen, exclusively, and close again.
 *
 * @module
 */
import { createServer } from "node:net";

/**
 * Listens on `host`:`port` (0: any free port) and closes again. Resolves
 * null when that worked, else the bind error (EADDRINUSE, EADDRNOTAVAIL,
 * EACCES …). `exclusive`: a cluster primary must not hand over a shared handle.
 */
export function tryListen(port: number, host: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(null)));
  });
}
