/**
 * Test support: a hand-written Engine on a local unix socket, for the hostile
 * and broken answers a real dockerd never gives on demand. Shared by the
 * tests of the transport (`engine_http_test.ts`) and of the API on top
 * (`client_test.ts`).
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Answers one path (the query string is not part of the route). */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A handler that answers `body` as JSON with `status`. */
export const json = (body: unknown, status = 200): Handler => (_req, res) => {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
};

/**
 * Fake engines in one temp dir. `start(routes)` listens on a fresh socket and
 * answers an unknown path with the Engine's 404; `stop()` closes them all and
 * removes the dir.
 */
export function fakeEngines(): { dir: string; start(routes: Record<string, Handler>): Promise<string>; stop(): void } {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-client-test-"));
  let serial = 0;
  const servers: http.Server[] = [];
  return {
    dir,
    async start(routes) {
      const socketPath = join(dir, `e${serial++}.sock`);
      const server = http.createServer((req, res) => {
        const route = routes[(req.url ?? "").split("?")[0] ?? ""];
        if (route) route(req, res);
        else json({ message: `page not found: ${req.url}` }, 404)(req, res);
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
      return socketPath;
    },
    stop() {
      for (const s of servers) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
