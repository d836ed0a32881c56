/**
 * The defences every HTTP server of the daemon shares (control socket,
 * metrics endpoint): a client that sends garbage, half a request or nothing
 * at all must never block or crash the daemon. node's HTTP server parses
 * strictly, the header limit bounds what one request can make rdhpf buffer,
 * and a hard deadline per connection bounds how long one client can hold a
 * socket.
 *
 * @module
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Logger } from "@logtape/logtape";

/**
 * Longest life of one client connection, however busy the client keeps it.
 * Bun's node:http enforces neither `headersTimeout` nor `requestTimeout`, and
 * an idle timeout never fires for a client that trickles a byte every
 * 100 ms, so only a deadline bounds a never-finishing request. A status
 * request takes a few milliseconds; `status --watch` opens one per second,
 * a scraper one per scrape interval.
 */
const CONNECTION_DEADLINE_MS = 3000;
/** Idle clients (connected, sending nothing) are dropped sooner than the deadline. */
const IDLE_TIMEOUT_MS = 2000;

/**
 * An HTTP server for GET-only endpoints, with the limits above. A request
 * that announces a body is answered and its connection closed, so that a
 * client cannot keep it open by trickling the body.
 */
export function guardedHttpServer(log: Logger, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const listener: RequestListener = (req, res) => {
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    if (hasBody) {
      res.setHeader("connection", "close");
      res.on("finish", () => req.socket.destroy());
    }
    req.resume();
    handler(req, res);
  };
  const server = createServer({ maxHeaderSize: 8 * 1024, requestTimeout: 2000, headersTimeout: 1000, keepAliveTimeout: 1000 }, listener);
  server.on("clientError", (err, socket) => {
    log.debug("HTTP client error", { error: err.message });
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });
  server.on("connection", (socket) => {
    const deadline = setTimeout(() => socket.destroy(), CONNECTION_DEADLINE_MS);
    socket.once("close", () => clearTimeout(deadline));
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
  });
  return server;
}

/** Closes the server and drops its open connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
