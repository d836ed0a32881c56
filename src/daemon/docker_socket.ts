/**
 * rdhpf's Docker Engine socket for the user's own tools (docker, compose,
 * Testcontainers): a local unix socket that outlives reconnects. Each client
 * connection is relayed byte for byte to the private socket of the current
 * Docker link (docker_link.ts): with a socket forward that is one channel of
 * the one SSH connection, with dial-stdio one remote `docker system
 * dial-stdio`. No HTTP is parsed, so hijacked and upgraded streams (attach,
 * exec -it, BuildKit's h2c), chunked streams and uploads pass unchanged, and a
 * half-close (FIN) travels both ways (`docker run -i` ends stdin with one).
 *
 * With the start hold on (start_hold.ts), the relay also watches where the
 * HTTP/1.1 messages begin and end (HttpBoundaries, which only observes) and
 * holds the success response of a container start or restart until that
 * container's forwards are ready; the bytes still go out unchanged and in
 * order. A connection the observer does not understand (an upgrade, a
 * hijacked stream, anything not plain HTTP/1.1) is carried as before.
 *
 * Between two links (the master reconnecting) a new client waits up to
 * `waitForLinkMs`, then goes on through the new link or is closed with one
 * log line. Streams in flight end when their link dies.
 *
 * @module
 */
import { chmodSync, lstatSync, statSync, unlinkSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";
import { getLogger } from "@logtape/logtape";
import { connects } from "../connects.ts";
import { HttpBoundaries } from "../docker/mod.ts";
import { RdhpfError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { heldContainer } from "./start_hold.ts";
import { currentUid, privateDirVerdict } from "./state_file.ts";

const log = getLogger(["rdhpf", "docker", "socket"]);

/** How long a client connection waits for a Docker link before it is closed. */
export const WAIT_FOR_LINK_MS = 30_000;
/** Pause between two tries to reach a link that is there but refuses (it is being replaced). */
const RETRY_CONNECT_MS = 200;

export interface DockerSocketOptions {
  /** Where to listen. */
  path: string;
  waitForLinkMs?: number;
}

/** A relay whose upstream (the link's private socket) comes and goes. */
export class DockerSocketServer {
  private upstream: string | null = null;
  private waiters = new Set<() => void>();
  private readonly clients = new Set<net.Socket>();
  private acceptedTotal = 0;
  private closed = false;
  /** Waits for a started container's forwards (the engine's start hold); null: carry bytes only. */
  private startHold: ((containerRef: string) => Promise<void>) | null = null;

  private constructor(private readonly server: net.Server, readonly path: string, private readonly waitForLinkMs: number) {}

  /**
   * Listens on `opts.path` (mode 0600). Refuses (exit 2) a directory that is
   * not private to this user, and a socket that another process serves.
   */
  static async start(opts: DockerSocketOptions): Promise<DockerSocketServer> {
    const { path } = opts;
    await checkPlace(path);
    const server = net.createServer({ allowHalfOpen: true });
    const relay = new DockerSocketServer(server, path, opts.waitForLinkMs ?? WAIT_FOR_LINK_MS);
    server.on("connection", (client) => void relay.carry(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) =>
        reject(new RdhpfError(`cannot serve the Docker socket ${path}: ${err.message}`, "choose another path with --docker-socket PATH, or turn it off with --no-docker-socket", 2, { cause: err })),
      );
      server.listen(path, () => resolve());
    });
    // The directory is private already; 0600 keeps the socket so should it not be.
    chmodSync(path, 0o600);
    server.on("error", (err) => log.warn("Docker socket error", { socket: path, error: err.message }));
    log.info("Serving the Docker socket", { socket: path, docker_host: `unix://${path}` });
    return relay;
  }

  /** The private socket of the current link, or null while there is none. */
  setUpstream(socketPath: string | null): void {
    this.upstream = socketPath;
    if (socketPath === null) return;
    for (const wake of [...this.waiters]) wake();
  }

  /**
   * Turns the start hold on for connections accepted from now on: `hold`
   * resolves when a start response for that container may go on (it never
   * rejects; the engine bounds it). null turns it off.
   */
  setStartHold(hold: ((containerRef: string) => Promise<void>) | null): void {
    this.startHold = hold;
  }

  /** Client connections being relayed or waiting. */
  connections(): number {
    return this.clients.size;
  }

  /** Client connections accepted since start. */
  accepted(): number {
    return this.acceptedTotal;
  }

  /** Stops listening, ends every client connection and removes the socket file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.clients) c.destroy();
    for (const wake of [...this.waiters]) wake();
    await stopped;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  private async carry(client: net.Socket): Promise<void> {
    this.acceptedTotal++;
    this.clients.add(client);
    client.once("close", () => this.clients.delete(client));
    client.on("error", () => client.destroy());
    // What the client sends before the link is there waits in the socket.
    client.pause();
    const upstream = await this.connectUpstream(client);
    if (!upstream) {
      client.destroy();
      return;
    }
    upstream.on("error", () => upstream.destroy());
    // pipe() ends the other side when one side ends: the FIN is passed on, not the close.
    client.pipe(upstream);
    client.once("close", () => upstream.destroy());
    const hold = this.startHold;
    if (hold) {
      carryHoldingStarts(client, upstream, hold);
    } else {
      upstream.pipe(client);
      upstream.once("close", () => client.destroy());
    }
    client.resume();
  }

  /** Connects to the current link's socket, waiting for one up to the deadline; null when none came. */
  private async connectUpstream(client: net.Socket): Promise<net.Socket | null> {
    const deadline = Date.now() + this.waitForLinkMs;
    let lastError = "no Docker link (the SSH connection is being re-established)";
    while (!this.closed && !client.destroyed) {
      const path = this.upstream;
      if (path !== null) {
        try {
          return await connectUnix(path);
        } catch (err) {
          lastError = (err as Error).message;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await (path === null ? this.linkOrTimeout(left) : sleep(Math.min(RETRY_CONNECT_MS, left)));
    }
    if (!this.closed && !client.destroyed) {
      log.warn("Docker socket client closed: no Docker link came up in time", { waited_ms: this.waitForLinkMs, last_error: lastError });
    }
    return null;
  }

  private linkOrTimeout(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
}

/**
 * Engine → client with the start hold: every byte goes out unchanged and in
 * order, but from a held response's head on, nothing is written until its
 * hold resolves. The head is held from its first byte when that arrived in
 * the same read (the usual case: a 204 head is ~150 bytes), else from its
 * last byte; either way the client cannot read the response before release.
 */
function carryHoldingStarts(client: net.Socket, upstream: net.Socket, hold: (containerRef: string) => Promise<void>): void {
  const seen = new HttpBoundaries();
  const out = new OrderedWriter(client, upstream);
  client.on("data", (chunk: Buffer) => {
    if (seen.passthrough === null) seen.fromClient(chunk);
  });
  upstream.on("data", (chunk: Buffer) => {
    let from = 0;
    if (seen.passthrough === null) {
      for (const e of seen.fromEngine(chunk)) {
        if (e.kind !== "response") continue;
        const ref = heldContainer(e.request, e.status);
        if (ref === null) continue;
        const heldFrom = e.start >= 0 ? e.start : e.at - 1;
        out.write(chunk.subarray(from, heldFrom));
        from = heldFrom;
        out.gate(hold(ref).catch(() => undefined));
      }
    }
    out.write(from === 0 ? chunk : chunk.subarray(from));
  });
  // The FIN and the close follow the bytes still held, never overtake them.
  upstream.once("end", () => out.after(() => client.end()));
  upstream.once("close", () => out.after(() => client.destroy()));
}

/** Writes to a socket in order, waiting at each gate; passes the socket's backpressure on to `source`. */
class OrderedWriter {
  /** What waits behind a gate: bytes, further gates, and actions (end, close) to run in turn. */
  private readonly queue: Array<Buffer | Promise<void> | (() => void)> = [];
  private draining = false;
  private waitingForDrain = false;

  constructor(private readonly sink: net.Socket, private readonly source: net.Socket) {}

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.draining) {
      this.queue.push(bytes);
      return;
    }
    if (!this.sink.write(bytes) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.source.pause();
      this.sink.once("drain", () => {
        this.waitingForDrain = false;
        this.source.resume();
      });
    }
  }

  /** Nothing written after this call goes out before `released` resolves. */
  gate(released: Promise<void>): void {
    this.queue.push(released);
    if (!this.draining) void this.drain();
  }

  /** Runs `action` once everything written before it has gone out. */
  after(action: () => void): void {
    if (this.draining) this.queue.push(action);
    else action();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length > 0) {
      const next = this.queue.shift()!;
      if (next instanceof Promise) await next;
      else if (typeof next === "function") next();
      else if (!this.sink.destroyed) this.sink.write(next);
    }
    this.draining = false;
  }
}

function connectUnix(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path, allowHalfOpen: true });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** The checks before listening: a private directory, and no live socket in the way. */
async function checkPlace(path: string): Promise<void> {
  const dir = dirname(path);
  let st: { uid: number; mode: number };
  try {
    st = statSync(dir);
  } catch (err) {
    throw new RdhpfError(`cannot serve the Docker socket ${path}: ${(err as Error).message}`, "create the directory (mode 0700) or choose another path with --docker-socket PATH", 2);
  }
  const verdict = privateDirVerdict(dir, st, currentUid());
  // Readable by others is enough to refuse here: this may be the user's own dir, not one rdhpf may tighten.
  if (verdict !== "ok") {
    throw new RdhpfError(
      `refusing to serve the Docker socket ${path}: its directory is not private to you (${verdict instanceof RdhpfError ? verdict.message : `mode ${(st.mode & 0o777).toString(8)}`}); whoever can reach the socket controls the remote Docker host`,
      `use a directory of mode 0700 that you own (\`chmod 700 ${dir}\`), another --docker-socket PATH, or --no-docker-socket`,
      2,
    );
  }
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) {
    throw new RdhpfError(`cannot serve the Docker socket ${path}: a file that is not a socket is in the way`, "move that file away, or choose another path with --docker-socket PATH", 2);
  }
  if (await connects({ path }, 1000)) {
    throw new RdhpfError(`cannot serve the Docker socket ${path}: another process serves it`, "stop the other rdhpf for this host name, or choose another path with --docker-socket PATH", 2);
  }
  unlinkSync(path); // left behind by an rdhpf that was killed
}
