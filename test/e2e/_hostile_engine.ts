/**
 * A compromised remote's Docker engine: a minimal Engine API server (API
 * 1.41) on a unix socket that lists and inspects containers with hostile names and labels
 * and writes malformed, truncated and huge lines into the event stream.
 * Real dockerd refuses such names; a hostile engine (or a man in the middle
 * of the remote socket) does not.
 *
 * rdhpf finds it the way it finds any engine: the remote user's DOCKER_HOST
 * (on the test bed, sshd's `SetEnv DOCKER_HOST=unix://<socket>`).
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One container the hostile engine reports as running. */
export interface HostileContainer {
  id: string;
  /** Raw name, sent as "/" + name. */
  name: string;
  labels: Record<string, string>;
  /** Published TCP port (same number remote and local); none when absent. */
  port?: number;
}

/** What the hostile engine sends and what it saw. */
export interface HostileEngine {
  socketPath: string;
  /** "unix://" + socketPath, for DOCKER_HOST. */
  endpoint: string;
  /** Request paths received, in order. */
  requests: string[];
  /** Event streams opened so far. */
  eventStreams(): number;
  /** Replaces the containers listed from now on. */
  setContainers(containers: HostileContainer[]): void;
  /** Writes one raw line into every open event stream (a trailing "\n" is added). */
  sendEvent(line: string): void;
  close(): Promise<void>;
}

/** Options of {@link startHostileEngine}. */
export interface HostileEngineOptions {
  containers: HostileContainer[];
  /** Raw lines written into every event stream right after it opens (each gets a trailing "\n" unless it has one). */
  eventLines: string[];
}

/**
 * Starts the hostile engine on a fresh socket in a private temp dir. The
 * socket lives on this machine's filesystem, which the test bed's sshd
 * shares, so the remote side can forward it.
 */
export async function startHostileEngine(opts: HostileEngineOptions): Promise<HostileEngine> {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-hostile-"));
  const socketPath = join(dir, "docker.sock");
  const requests: string[] = [];
  const streams = new Set<ServerResponse>();
  let streamsOpened = 0;
  const created = Math.floor(Date.now() / 1000) - 60;
  let containers = opts.containers;

  const json = (res: ServerResponse, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(200, { "content-type": "application/json", "api-version": "1.41", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0]!;
    requests.push(path);
    if (path === "/_ping") {
      res.writeHead(200, { "content-type": "text/plain", "api-version": "1.41" });
      res.end("OK");
    } else if (path === "/version" || /^\/v[\d.]+\/version$/.test(path)) {
      json(res, { Version: "20.10.24-hostile", ApiVersion: "1.41", MinAPIVersion: "1.12", Os: "linux", Arch: "amd64" });
    } else if (/^\/v[\d.]+\/containers\/json$/.test(path)) {
      json(res, containers.map((c) => ({
        Id: c.id, Names: [`/${c.name}`], Labels: c.labels, Created: created, State: "running",
        Ports: c.port === undefined ? [] : [{ IP: "0.0.0.0", PrivatePort: 80, PublicPort: c.port, Type: "tcp" }],
      })));
    } else if (/^\/v[\d.]+\/containers\/[^/]+\/json$/.test(path)) {
      // Inspect, as dockerd answers it: by full id, id prefix or name; 404 for anything else.
      const ref = decodeURIComponent(path.split("/")[3]!);
      const c = containers.find((x) => x.id === ref || x.id.startsWith(ref) || x.name === ref);
      if (!c) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `No such container: ${ref}` }));
        return;
      }
      json(res, {
        Id: c.id, Name: `/${c.name}`, Created: new Date(created * 1000).toISOString(),
        State: { Running: true, StartedAt: new Date(created * 1000).toISOString() }, Config: { Labels: c.labels },
        NetworkSettings: { Ports: c.port === undefined ? {} : { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: String(c.port) }] } },
      });
    } else if (/^\/v[\d.]+\/events$/.test(path)) {
      streamsOpened++;
      streams.add(res);
      res.on("close", () => streams.delete(res));
      res.writeHead(200, { "content-type": "application/json", "api-version": "1.41" });
      res.flushHeaders(); // the client waits for the headers, also when there is no line to send
      for (const line of opts.eventLines) res.write(line.endsWith("\n") ? line : `${line}\n`);
      // Then silence, like an idle engine: the stream stays open.
    } else {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `page not found: ${path}` }));
    }
  };
  const server: Server = createServer(handler);
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(socketPath, () => resolve()));
  return {
    socketPath,
    endpoint: `unix://${socketPath}`,
    requests,
    eventStreams: () => streamsOpened,
    setContainers: (list) => {
      containers = list;
    },
    sendEvent: (line) => {
      for (const s of streams) s.write(line.endsWith("\n") ? line : `${line}\n`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        server.closeAllConnections?.();
      }),
  };
}
