/**
 * The daemon's control socket: HTTP/1.1 on a unix socket in the runtime dir,
 * mode 0600. `GET /status` answers the status document.
 *
 * A client that sends garbage, half a request or nothing at all must never
 * block or crash the daemon: node's HTTP server parses strictly, the header
 * limit bounds what one request can make rdhpf buffer, and a hard deadline
 * per connection bounds how long one client can hold a socket.
 *
 * @module
 */
import { createServer, type Server } from "node:http";
import { chmodSync, rmSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import type { StatusDocument } from "../status/mod.ts";

const log = getLogger(["rdhpf", "control"]);

/**
 * Longest life of one client connection, however busy the client keeps it.
 * Bun's node:http enforces neither `headersTimeout` nor `requestTimeout`, and
 * an idle timeout never fires for a client that trickles a byte every
 * 100 ms, so only a deadline bounds a never-finishing request. A status
 * request takes a few milliseconds; `status --watch` opens one per second.
 */
const CONNECTION_DEADLINE_MS = 3000;
/** Idle clients (connected, sending nothing) are dropped sooner than the deadline. */
const IDLE_TIMEOUT_MS = 2000;

export interface ControlServer {
  close(): Promise<void>;
}

export async function startControlServer(socketPath: string, status: () => StatusDocument): Promise<ControlServer> {
  rmSync(socketPath, { force: true });
  const server: Server = createServer({ maxHeaderSize: 8 * 1024, requestTimeout: 2000, headersTimeout: 1000, keepAliveTimeout: 1000 }, (req, res) => {
    // Requests carry no body we need: one that announces a body is answered and its connection closed, so
    // that a client cannot keep it open by trickling the body.
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    if (hasBody) {
      res.setHeader("connection", "close");
      res.on("finish", () => req.socket.destroy());
    }
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
  server.on("connection", (socket) => {
    const deadline = setTimeout(() => socket.destroy(), CONNECTION_DEADLINE_MS);
    socket.once("close", () => clearTimeout(deadline));
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
  });
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
