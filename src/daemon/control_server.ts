/**
 * The daemon's control socket: HTTP/1.1 on a unix socket in the runtime dir,
 * mode 0600. `GET /status` answers the status document. Hostile clients are
 * bounded as in http_guard.ts.
 *
 * @module
 */
import { chmodSync, rmSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import type { StatusDocument } from "../status/mod.ts";
import { closeServer, guardedHttpServer } from "./http_guard.ts";

const log = getLogger(["rdhpf", "control"]);

export interface ControlServer {
  close(): Promise<void>;
}

export async function startControlServer(socketPath: string, status: () => StatusDocument): Promise<ControlServer> {
  rmSync(socketPath, { force: true });
  const server = guardedHttpServer(log, (req, res) => {
    if (req.method === "GET" && (req.url === "/status" || req.url === "/status/")) {
      const body = JSON.stringify(status());
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: try GET /status\n");
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
    close: async () => {
      const closed = closeServer(server);
      rmSync(socketPath, { force: true });
      await closed;
    },
  };
}
