/**
 * The scrape endpoint of `rdhpf run --metrics-listen`: plain HTTP on a TCP
 * address (loopback unless the user chose otherwise).
 *
 * - `GET /metrics`: the metrics of this instance, OpenMetrics when the Accept
 *   header asks for it, Prometheus text 0.0.4 otherwise (src/status/negotiate.ts).
 * - `GET /healthz`: 200 "ok" when connected with no forward in conflict, 503
 *   and a one-line reason otherwise.
 *
 * Both render the status store's current document: a scrape never waits on
 * ssh or Docker. Hostile clients are bounded as in http_guard.ts.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { hostPort } from "../address.ts";
import { usageError } from "../errors.ts";
import { metricsFormatFor, renderMetrics, type StatusDocument, unhealthyReason } from "../status/mod.ts";
import { closeServer, guardedHttpServer } from "./http_guard.ts";

const log = getLogger(["rdhpf", "metrics"]);

/** Where the endpoint listens; `host` is an IP address. */
export interface MetricsListen {
  host: string;
  port: number;
}

export interface MetricsServer {
  /** The address actually bound (the port is the kernel's choice when 0 was asked for). */
  readonly address: MetricsListen;
  close(): Promise<void>;
}

/** True for 127.0.0.0/8 and ::1, the addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host);
}

/**
 * Starts the endpoint. A port in use or an address not on this machine is a
 * usage error (exit 2) naming `--metrics-listen`, raised before the daemon
 * connects anywhere.
 */
export async function startMetricsServer(listen: MetricsListen, status: () => StatusDocument): Promise<MetricsServer> {
  const server = guardedHttpServer(log, (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      res.end("only GET and HEAD\n");
      return;
    }
    if (path === "/metrics") {
      const { body, contentType } = renderMetrics([{ doc: status(), live: true, staleAgeS: null, unresponsive: false }], metricsFormatFor(req.headers.accept), new Date());
      res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body), vary: "Accept" });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    if (path === "/healthz") {
      const reason = unhealthyReason(status());
      const body = `${reason ?? "ok"}\n`;
      res.writeHead(reason === null ? 200 : 503, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("not found: try GET /metrics or GET /healthz\n");
  });
  const where = hostPort(listen.host, listen.port);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") {
        reject(usageError(`--metrics-listen ${where}: the port is already in use`, `choose another port, or find its owner with \`lsof -i :${listen.port}\``));
      } else if (err.code === "EADDRNOTAVAIL") {
        reject(usageError(`--metrics-listen ${where}: no such address on this machine`, "give a local address, e.g. --metrics-listen 127.0.0.1:9469"));
      } else if (err.code === "EACCES") {
        reject(usageError(`--metrics-listen ${where}: permission denied`, "ports below 1024 need privileges; choose a port above 1024"));
      } else {
        reject(usageError(`--metrics-listen ${where}: cannot listen: ${err.message}`, "check the address and port"));
      }
    });
    server.listen({ host: listen.host, port: listen.port, exclusive: true }, () => resolve());
  });
  const bound = server.address();
  const address = typeof bound === "object" && bound !== null ? { host: listen.host, port: bound.port } : listen;
  if (!isLoopback(listen.host)) {
    log.warn("The metrics endpoint listens on a non-loopback address: anyone who can reach it sees this host's forwards", { listen: where });
  }
  log.info("Serving metrics", { url: `http://${hostPort(address.host, address.port)}/metrics` });
  return { address, close: () => closeServer(server) };
}
