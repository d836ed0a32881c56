/**
 * For tests: a real HTTP server on a unix socket that answers `GET /status`
 * like a running daemon, with a document the test can change.
 *
 * @module
 */
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import type { StatusDocument } from "./schema.ts";

/** A status endpoint whose document the test controls. */
export interface StatusServer {
  doc: StatusDocument;
  close(): Promise<void>;
}

/** Listens on `socketPath` and serves `doc` (read at each request). */
export async function startStatusServer(socketPath: string, doc: StatusDocument): Promise<StatusServer> {
  const sockets = new Set<Socket>();
  const state: { doc: StatusDocument } = { doc };
  const server: Server = createServer((req, res) => {
    if (req.url !== "/status") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(state.doc));
  });
  server.on("connection", (c: Socket) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    get doc() {
      return state.doc;
    },
    set doc(d: StatusDocument) {
      state.doc = d;
    },
    close: async () => {
      for (const c of sockets) c.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
