/**
 * The daemon's control socket: HTTP/1.1 on a unix socket in the runtime dir,
 * mode 0600. `GET /status` answers the status document.
 *
 * A client that sends garbage, half a request or nothing at all must never
 * block or crash the daemon: node's HTTP server parses strictly, and the
 * timeouts and header limits below bound what one client can hold.
 *
 * @module
 */
import { createServer, type Server } from "node:http";
import { chmodSync, rmSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import type { StatusDocument } from "../status/schema.ts";

const log = getLogger(["rdhpf", "control"]);

export interface ControlServer {
  close(): Promise<void>;
}

export async function startControlServer(socketPath: string, status: () => StatusDocument): Promise<ControlServer> {
  rmSync(socketPath, { force: true });
  const server: Server = createServer({ maxHeaderSize: 8 * 1024, requestTimeout: 2000, headersTimeout: 1000, keepAliveTimeout: 1000 }, (req, res) => {
    // Requests carry no body we need; anything sent is discarded.
    req.resume();
    if (req.method === "GET" && (req.url === "/status" || req.url === "/status/")) {
      const body = JSON.stringify(status());
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: try GET /status\n");
  });
  server.on("clientError", (err, socket) => {
    log.debug("Control socket client error", { error: err.message });
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });
  // Idle sockets that never send anything.
  server.on("connection", (socket) => socket.setTimeout(5000, () => socket.destroy()));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
        rmSync(socketPath, { force: true });
      }),
  };
}
