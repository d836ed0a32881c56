/**
 * What watching HTTP boundaries costs rdhpf's Docker socket: the same
 * `GET /containers/json` (a 4 KB answer, like `docker ps` with a few
 * containers) through the relay with the start hold off and on, against a
 * stand-in Engine on a local unix socket, so that only the relay differs.
 * The two relays take turns in blocks, so that the machine's load falls on
 * both alike. Prints p50/p99 per mode, on new connections and keep-alive.
 *
 *   bun scripts/bench_socket_relay.ts [requests per mode, default 2000]
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerSocketServer } from "../src/daemon/mod.ts";

const N = Number(process.argv[2] ?? 2000);
const BLOCK = 100;
const body = JSON.stringify(Array.from({ length: 12 }, (_, i) => ({ Id: `${i}`.repeat(64).slice(0, 64), Names: [`/web-${i}`], Image: "busybox", Ports: [{ PrivatePort: 80, PublicPort: 8000 + i, Type: "tcp" }], Labels: {} })));

const dir = mkdtempSync(join(tmpdir(), "rdhpf-bench-"));
chmodSync(dir, 0o700);
const engine = http.createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
});
await new Promise<void>((r) => engine.listen(join(dir, "engine.sock"), () => r()));

const off = await DockerSocketServer.start({ path: join(dir, "off.sock") });
const on = await DockerSocketServer.start({ path: join(dir, "on.sock") });
for (const relay of [off, on]) relay.setUpstream(join(dir, "engine.sock"));
on.setStartHold(async () => undefined);

function get(socketPath: string, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    http.request({ socketPath, path: "/v1.41/containers/json", agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - started));
    }).on("error", reject).end();
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

for (const mode of ["new connection", "keep-alive"] as const) {
  const agents = { off: mode === "keep-alive" ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false, on: mode === "keep-alive" ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false } as const;
  const times: Record<"off" | "on", number[]> = { off: [], on: [] };
  for (let i = 0; i < 50; i++) await Promise.all([get(off.path, agents.off), get(on.path, agents.on)]); // warm-up
  for (let done = 0; done < N; done += BLOCK) {
    for (const which of ["off", "on"] as const) {
      const path = which === "off" ? off.path : on.path;
      for (let i = 0; i < BLOCK; i++) times[which].push(await get(path, agents[which]));
    }
  }
  for (const a of Object.values(agents)) if (a) a.destroy();
  console.log(`${mode}, ${N} requests each: hold off p50 ${fmt(pct(times.off, 50))}, p99 ${fmt(pct(times.off, 99))}; hold on p50 ${fmt(pct(times.on, 50))}, p99 ${fmt(pct(times.on, 99))}; p50 difference ${fmt(pct(times.on, 50) - pct(times.off, 50))}`);
}

await off.close();
await on.close();
engine.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
