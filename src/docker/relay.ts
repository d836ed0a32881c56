/**
 * The fallback Docker transport: a private local unix socket whose every
 * connection is bridged to a fresh `docker system dial-stdio` on the remote
 * (through the SSH master). Used when the server refuses stream-local
 * forwarding (`AllowStreamLocalForwarding no`) or the remote endpoint is not
 * a unix socket. The `EngineClient` cannot tell the difference.
 *
 * One child per connection, never more: the keep-alive pool of the client
 * keeps the count small, and a child is ended (by its pid) as soon as its
 * client goes away.
 *
 * Each child is one SSH session, and sshd allows only `MaxSessions` (10 by
 * default) per connection: a "Session open refused by peer" beyond that
 * would end the client's connection at once. So at most `maxBridges`
 * children run together; further connections wait in a FIFO queue, each at
 * most `queueWaitMs`, and are bridged as others end.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import { getLogger } from "@logtape/logtape";
import { RdhpfError } from "../errors.ts";
import { isRunning, terminateChild } from "../process/mod.ts";

const log = getLogger(["rdhpf", "docker", "relay"]);

/** After SIGTERM, a bridge child gets this long before SIGKILL. */
const KILL_GRACE_MS = 2000;
/** Bytes of a bridge's stderr kept for the log line when it exits. */
const MAX_STDERR_BYTES = 2048;

/**
 * Bridges (SSH sessions) at once by default: sshd's default `MaxSessions` is
 * 10, and the endpoint discovery and a spare keep two free.
 */
export const DEFAULT_MAX_BRIDGES = 8;
/** How long a connection waits in the queue for a bridge; as long as a client waits for a link. */
export const DEFAULT_QUEUE_WAIT_MS = 30_000;

/** Options of `startDialStdioRelay`. */
export interface DialStdioRelayOptions {
  /** Where the relay listens; a stale socket file there is replaced. */
  socketPath: string;
  /** Spawns one bridge process with piped stdin/stdout (stderr piped or ignored). */
  spawnBridge: () => ChildProcess;
  /** Most bridges (remote sessions) at once; default {@link DEFAULT_MAX_BRIDGES}. */
  maxBridges?: number;
  /** Longest wait of a queued connection; default {@link DEFAULT_QUEUE_WAIT_MS}. */
  queueWaitMs?: number;
}

/** What the relay carries now. */
export interface BridgeCounts {
  /** Connections bridged, each with one child (one remote session). */
  active: number;
  /** Connections waiting for a free bridge. */
  queued: number;
  /** Most bridges at once. */
  limit: number;
}

/** A running relay. */
export interface DialStdioRelay {
  /** Stops listening, ends every bridge and queued connection, and removes the socket file. */
  close(): Promise<void>;
  /** Connections currently bridged (each has one child). */
  connections(): number;
  counts(): BridgeCounts;
}

interface Bridge {
  socket: net.Socket;
  child: ChildProcess;
  exited: Promise<void>;
}

/** Ends a bridge's child: SIGTERM, then SIGKILL after a grace period. */
function endChild(bridge: Bridge): void {
  void terminateChild(bridge.child, KILL_GRACE_MS);
}

/** Removes a stale socket file; refuses to delete anything that is not a socket. */
function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) {
    throw new RdhpfError(
      `cannot create the Docker relay socket ${path}: a file that is not a socket is in the way`,
      "move that file away; rdhpf only replaces its own stale sockets",
    );
  }
  unlinkSync(path);
}

/** What a connection sent while it waited in the queue: written to its bridge first. */
interface Held {
  chunks: Buffer[];
  /** The client half-closed (FIN) while it waited. */
  ended: boolean;
  /** When the connection stops waiting for a session (epoch ms), however often sshd refused one. */
  deadline: number;
}

/** How the bridge of one connection ended, for the relay's bookkeeping. */
interface BridgeCallbacks {
  /** The child is gone (its session with it): the slot is free. */
  onEnded(): void;
  /**
   * sshd refused the session before anything came back (it frees a closed
   * session a moment after the client sees it end): the connection is handed
   * back with every byte it sent, to be bridged again.
   */
  onRefused(socket: net.Socket, sent: Held): void;
}

/** The mux client's words when sshd is at its MaxSessions. */
const SESSION_REFUSED = /Session open refused/i;

function bridgeConnection(socket: net.Socket, spawnBridge: () => ChildProcess, bridges: Set<Bridge>, cb: BridgeCallbacks, held: Held): void {
  let child: ChildProcess;
  try {
    child = spawnBridge();
  } catch (err) {
    log.warn("Docker relay could not start a bridge", { error: err instanceof Error ? err.message : String(err) });
    socket.destroy();
    cb.onEnded();
    return;
  }
  const exited = new Promise<void>((resolve) => {
    if (!isRunning(child)) resolve();
    child.once("exit", () => resolve());
    // A spawn failure (ENOENT) emits "error" and no "exit".
    child.once("error", () => resolve());
  });
  const bridge: Bridge = { socket, child, exited };
  bridges.add(bridge);
  const { stdin, stdout, stderr } = child;
  if (!stdin || !stdout) {
    log.warn("Docker relay bridge has no stdin/stdout pipes", { pid: child.pid });
    socket.destroy();
    endChild(bridge);
    void exited.then(() => {
      bridges.delete(bridge);
      cb.onEnded();
    });
    return;
  }

  let stderrText = "";
  stderr?.on("data", (chunk: Buffer) => {
    if (stderrText.length < MAX_STDERR_BYTES) stderrText += chunk.toString("utf8").slice(0, MAX_STDERR_BYTES - stderrText.length);
  });

  // What the client sent, kept until the bridge answers: a refused session is retried with it.
  const sent: Held = { chunks: [...held.chunks], ended: held.ended, deadline: held.deadline };
  let sentBytes = sent.chunks.reduce((n, c) => n + c.length, 0);
  let answered = false;
  const record = (chunk: Buffer) => {
    sentBytes += chunk.length;
    if (sentBytes <= MAX_HELD_BYTES) sent.chunks.push(chunk);
  };
  const recordEnd = () => {
    sent.ended = true;
  };
  const stopRecording = () => {
    socket.off("data", record);
    socket.off("end", recordEnd);
  };
  socket.on("data", record);
  socket.once("end", recordEnd);
  stdout.once("data", () => {
    answered = true;
    stopRecording();
    sent.chunks = [];
  });

  // Half-close travels both ways: the client's end of request (FIN) closes the
  // bridge's stdin, the bridge's end of output ends the client's socket.
  for (const chunk of held.chunks) stdin.write(chunk);
  if (held.ended) stdin.end();
  else socket.pipe(stdin);
  // The client's socket is ended here, not by pipe(): a bridge that ends
  // without a byte may be a refused session, to be retried on the same socket.
  stdout.pipe(socket, { end: false });
  stdout.once("end", () => {
    if (answered) socket.end();
  });

  // EPIPE and resets after one side is gone are expected; the close handlers clean up.
  const onSocketError = () => socket.destroy();
  stdin.on("error", () => socket.destroy());
  stdout.on("error", () => socket.destroy());
  socket.on("error", onSocketError);

  const onSocketClose = () => {
    stdin.destroy();
    endChild(bridge);
    void exited.then(() => {
      stdout.destroy();
      stderr?.destroy();
      bridges.delete(bridge);
      cb.onEnded();
    });
  };
  socket.once("close", onSocketClose);

  child.once("error", (err) => {
    log.warn("Docker relay bridge failed to start", { error: err.message });
    socket.destroy();
  });
  const endClient = () => {
    // Let what the bridge wrote drain to the client, then close.
    if (stdout.readableEnded) socket.end();
    else stdout.once("end", () => socket.end());
    setTimeout(() => socket.destroy(), KILL_GRACE_MS).unref();
  };
  child.once("exit", (code, signal) => {
    if (code !== 255 || answered) {
      log.debug("Docker relay bridge exited", { pid: child.pid, code, signal, stderr: stderrText.trim() || undefined });
      endClient();
      return;
    }
    // ssh's own failure: its stderr is complete once the child's streams closed.
    child.once("close", () => {
      log.debug("Docker relay bridge exited", { pid: child.pid, code, signal, stderr: stderrText.trim() || undefined });
      if (!SESSION_REFUSED.test(stderrText) || answered || socket.destroyed || sentBytes > MAX_HELD_BYTES || Date.now() >= sent.deadline) {
        endClient();
        return;
      }
      socket.unpipe(stdin);
      stdout.unpipe(socket);
      stopRecording();
      socket.off("close", onSocketClose);
      socket.off("error", onSocketError);
      socket.pause();
      bridges.delete(bridge);
      cb.onRefused(socket, sent);
    });
  });
  log.debug("Docker relay bridge started", { pid: child.pid });
}

/** A connection waiting for a bridge. */
interface Queued {
  socket: net.Socket;
  timer: ReturnType<typeof setTimeout>;
  held: Held;
  /** Stops reading into `held`. */
  release(): void;
}

/**
 * A queued connection is read into memory while it waits, so that a reset
 * is noticed and its request (and FIN) reach the bridge later; past this many
 * bytes it is paused and the client waits.
 */
const MAX_HELD_BYTES = 1 << 20;
/** Pause before bridging again after sshd refused a session. */
const REFUSED_RETRY_MS = 100;

/**
 * Starts the relay: listens on `socketPath` (mode 0600) and bridges every
 * accepted connection to a new child from `spawnBridge()`.
 */
export async function startDialStdioRelay(opts: DialStdioRelayOptions): Promise<DialStdioRelay> {
  const { socketPath, spawnBridge } = opts;
  const maxBridges = opts.maxBridges ?? DEFAULT_MAX_BRIDGES;
  const queueWaitMs = opts.queueWaitMs ?? DEFAULT_QUEUE_WAIT_MS;
  removeStaleSocket(socketPath);
  const bridges = new Set<Bridge>();
  const queue: Queued[] = [];
  let closing: Promise<void> | null = null;

  // Bridges are counted until their child has exited: only then is the remote session gone.
  const callbacks: BridgeCallbacks = {
    onEnded: () => startNext(),
    onRefused: (socket, sent) => {
      log.debug("Docker relay: sshd refused a session (at its MaxSessions); the connection waits for the next free one", { limit: maxBridges });
      // Back to the head of the queue, after a pause in which sshd frees the closed session.
      enqueue(socket, sent, "front");
      setTimeout(startNext, REFUSED_RETRY_MS).unref();
    },
  };
  const startNext = () => {
    while (closing === null && queue.length > 0 && bridges.size < maxBridges) {
      const next = queue.shift()!;
      clearTimeout(next.timer);
      if (next.socket.destroyed) continue;
      next.release();
      bridgeConnection(next.socket, spawnBridge, bridges, callbacks, next.held);
    }
  };
  const enqueue = (socket: net.Socket, held: Held, where: "front" | "back") => {
    let heldBytes = held.chunks.reduce((n, c) => n + c.length, 0);
    const onData = (chunk: Buffer) => {
      held.chunks.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes >= MAX_HELD_BYTES) socket.pause();
    };
    const onEnd = () => {
      held.ended = true;
    };
    const onError = () => socket.destroy();
    const onClose = () => {
      clearTimeout(entry.timer);
      const i = queue.indexOf(entry);
      if (i >= 0) queue.splice(i, 1);
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.on("error", onError);
    socket.once("close", onClose);
    if (heldBytes < MAX_HELD_BYTES) socket.resume();
    const entry: Queued = {
      socket,
      held,
      release: () => {
        socket.off("data", onData);
        socket.off("end", onEnd);
        socket.off("error", onError);
        socket.off("close", onClose);
        socket.pause();
      },
      timer: setTimeout(() => {
        log.warn("Docker relay closed a connection that waited too long for a free dial-stdio session", { waited_ms: queueWaitMs, limit: maxBridges, queued: queue.length });
        socket.destroy();
      }, Math.max(0, held.deadline - Date.now())),
    };
    if (where === "front") queue.unshift(entry);
    else queue.push(entry);
  };
  const accept = (socket: net.Socket) => {
    const held: Held = { chunks: [], ended: false, deadline: Date.now() + queueWaitMs };
    if (bridges.size < maxBridges && queue.length === 0) {
      bridgeConnection(socket, spawnBridge, bridges, callbacks, held);
      return;
    }
    enqueue(socket, held, "back");
    log.debug("Docker relay connection queued: every dial-stdio session is in use", { limit: maxBridges, queued: queue.length });
  };
  const server = net.createServer({ allowHalfOpen: true }, accept);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new RdhpfError(`cannot listen on the Docker relay socket ${socketPath}: ${err.message}`, "check the runtime dir's permissions and free space", 1, { cause: err })),
    );
    server.listen(socketPath, () => resolve());
  });
  // The runtime dir is 0700 already; 0600 keeps the socket private even if it is not.
  chmodSync(socketPath, 0o600);
  server.on("error", (err) => log.warn("Docker relay socket error", { error: err.message }));
  log.debug("Docker relay listening", { socket: socketPath });

  return {
    connections: () => bridges.size,
    counts: () => ({ active: bridges.size, queued: queue.length, limit: maxBridges }),
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const q of queue.splice(0)) {
          clearTimeout(q.timer);
          q.socket.destroy();
        }
        const pending = [...bridges];
        for (const b of pending) {
          b.socket.destroy();
          endChild(b);
        }
        await Promise.all(pending.map((b) => b.exited));
        await closed;
        try {
          unlinkSync(socketPath);
        } catch {
          // already gone
        }
        log.debug("Docker relay closed", { socket: socketPath });
      })();
      return closing;
    },
  };
}
