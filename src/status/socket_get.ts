/**
 * One HTTP GET on a unix socket, the way `rdhpf status` and `rdhpf wait` ask
 * a daemon for its document: with Bun's `fetch` (its `unix` option) where it
 * exists, else with node:http (Deno runs the sources).
 *
 * Why two: in a fresh `rdhpf status` process node:http costs ~14 ms (most of
 * it loading node:http itself), Bun's fetch ~1.5 ms (docs/performance.md).
 *
 * @module
 */

/** The answer (status and body), or why there is none; never throws. */
export type SocketGetResult = { kind: "answer"; status: number; body: Uint8Array } | { kind: "none"; why: string };

/** Options of {@link getOnSocket}. */
export interface SocketGetOptions {
  accept: string;
  /** The whole exchange, body included, within this time; else "none". */
  timeoutMs: number;
  /** Larger bodies are given up on ("none"). */
  maxBytes: number;
}

/**
 * `GET path` on the unix socket at `socketPath`.
 *
 * @example
 * ```ts
 * const r = await getOnSocket("/run/user/1000/rdhpf/3f2a.api.sock", "/status", { accept: "application/json", timeoutMs: 200, maxBytes: 1 << 20 });
 * if (r.kind === "answer" && r.status === 200) console.log(new TextDecoder().decode(r.body));
 * ```
 */
export function getOnSocket(socketPath: string, path: string, opts: SocketGetOptions): Promise<SocketGetResult> {
  return "Bun" in globalThis ? viaFetch(socketPath, path, opts) : viaNodeHttp(socketPath, path, opts);
}

async function viaFetch(socketPath: string, path: string, opts: SocketGetOptions): Promise<SocketGetResult> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), opts.timeoutMs);
  try {
    const res = await fetch(`http://localhost${path}`, { unix: socketPath, headers: { accept: opts.accept }, signal: stop.signal });
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > opts.maxBytes) {
          stop.abort();
          return { kind: "none", why: `answer larger than ${opts.maxBytes} bytes` };
        }
        chunks.push(chunk);
      }
    }
    return { kind: "answer", status: res.status, body: Buffer.concat(chunks) };
  } catch (err) {
    if (stop.signal.aborted) return { kind: "none", why: `no answer within ${opts.timeoutMs} ms` };
    return { kind: "none", why: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

async function viaNodeHttp(socketPath: string, path: string, opts: SocketGetOptions): Promise<SocketGetResult> {
  const { request } = await import("node:http");
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: SocketGetResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request({ socketPath, path, method: "GET", headers: { accept: opts.accept }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) {
          req.destroy();
          finish({ kind: "none", why: `answer larger than ${opts.maxBytes} bytes` });
        } else chunks.push(chunk);
      });
      res.on("error", (err) => finish({ kind: "none", why: err.message }));
      res.on("end", () => finish({ kind: "answer", status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    const timer = setTimeout(() => {
      finish({ kind: "none", why: `no answer within ${opts.timeoutMs} ms` });
      req.destroy();
    }, opts.timeoutMs);
    req.on("error", (err: NodeJS.ErrnoException) => finish({ kind: "none", why: err.code ?? err.message }));
    req.end();
  });
}
