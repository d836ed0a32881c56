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

/** Options of `startDialStdioRelay`. */
export interface DialStdioRelayOptions {
  /** Where the relay listens; a stale socket file there is replaced. */
  socketPath: string;
  /** Spawns one bridge process with piped stdin/stdout (stderr piped or ignored). */
  spawnBridge: () => ChildProcess;
}

/** A running relay. */
export interface DialStdioRelay {
  /** Stops listening, ends every bridge and removes the socket file. */
  close(): Promise<void>;
  /** Connections currently bridged (each has one child). */
  connections(): number;
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

function bridgeConnection(socket: net.Socket, spawnBridge: () => ChildProcess, bridges: Set<Bridge>): void {
  let child: ChildProcess;
  try {
    child = spawnBridge();
  } catch (err) {
    log.warn("Docker relay could not start a bridge", { error: err instanceof Error ? err.message : String(err) });
    socket.destroy();
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
    bridges.delete(bridge);
    return;
  }

  let stderrText = "";
  stderr?.on("data", (chunk: Buffer) => {
    if (stderrText.length < MAX_STDERR_BYTES) stderrText += chunk.toString("utf8").slice(0, MAX_STDERR_BYTES - stderrText.length);
  });

  // Half-close travels both ways: the client's end of request (FIN) closes the
  // bridge's stdin, the bridge's end of output ends the client's socket.
  socket.pipe(stdin);
  stdout.pipe(socket);

  // EPIPE and resets after one side is gone are expected; the close handlers clean up.
  stdin.on("error", () => socket.destroy());
  stdout.on("error", () => socket.destroy());
  socket.on("error", () => socket.destroy());

  child.once("error", (err) => {
    log.warn("Docker relay bridge failed to start", { error: err.message });
    socket.destroy();
  });
  child.once("exit", (code, signal) => {
    log.debug("Docker relay bridge exited", { pid: child.pid, code, signal, stderr: stderrText.trim() || undefined });
    // Let what the bridge wrote drain to the client, then close.
    if (stdout.readableEnded) socket.end();
    else stdout.once("end", () => socket.end());
    setTimeout(() => socket.destroy(), KILL_GRACE_MS).unref();
  });
  socket.once("close", () => {
    stdin.destroy();
    endChild(bridge);
    void exited.then(() => {
      stdout.destroy();
      stderr?.destroy();
      bridges.delete(bridge);
    });
  });
  log.debug("Docker relay bridge started", { pid: child.pid });
}

/**
 * Starts the relay: listens on `socketPath` (mode 0600) and bridges every
 * accepted connection to a new child from `spawnBridge()`.
 */
export async function startDialStdioRelay(opts: DialStdioRelayOptions): Promise<DialStdioRelay> {
  const { socketPath, spawnBridge } = opts;
  removeStaleSocket(socketPath);
  const bridges = new Set<Bridge>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => bridgeConnection(socket, spawnBridge, bridges));
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

  let closing: Promise<void> | null = null;
  return {
    connections: () => bridges.size,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
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
