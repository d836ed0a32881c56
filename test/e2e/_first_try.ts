/**
 * "Does the port answer at the FIRST try after `docker run` returned?": the
 * probe of the start hold's tests and of `npm run bench -- --only hold`.
 *
 * @module
 */
import net from "node:net";
import type { DockerRun } from "./_docker_cli.ts";
import { freePort } from "./_harness.ts";

/**
 * ONE attempt on 127.0.0.1:`port`: connected (the forward was there: without
 * it nothing listens and the connect is refused) and answered (the
 * container's httpd replied over it, which also needs httpd to be up).
 */
export function tryOnce(port: number, timeoutMs = 3000): Promise<{ connected: boolean; answered: boolean }> {
  return new Promise((resolve) => {
    let connected = false;
    let data = "";
    const sock = net.connect({ host: "127.0.0.1", port });
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ connected, answered: /^HTTP\/1\.[01] 200/.test(data) });
    };
    const timer = setTimeout(done, timeoutMs);
    sock.on("connect", () => {
      connected = true;
      sock.write("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    });
    sock.on("data", (d: Buffer) => (data += d.toString("latin1")));
    sock.on("end", done);
    sock.on("error", done);
  });
}

/** The p-th percentile of `samples` (nearest rank), to 0.1. */
export function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! * 10) / 10;
}

/** How one loop of {@link runThenConnectOnce} went. */
export interface FirstTryResult { firstTry: number; answered: number; runMs: number[]; runtimeFailures: number }

/**
 * `docker run -d -p P:80 IMAGE` (through `docker`) then ONE connection
 * attempt to 127.0.0.1:P, `runs` times; the containers are removed after.
 * A run that fails in runc on a loaded machine ("OCI runtime create
 * failed", dockerd's error, passed on unchanged) is retried, and only a run
 * that succeeded counts.
 */
export async function runThenConnectOnce(docker: (args: string[]) => Promise<DockerRun>, image: string, prefix: string, runs: number): Promise<FirstTryResult> {
  let firstTry = 0;
  let answered = 0;
  let runtimeFailures = 0;
  const runMs: number[] = [];
  const names: string[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const port = await freePort();
      const name = `${prefix}-${i}`;
      names.push(name);
      let r = await docker(["run", "-d", "--name", name, "-p", `${port}:80`, image]);
      for (let retry = 0; r.code !== 0 && /OCI runtime create failed/.test(r.stderr) && retry < 3; retry++) {
        runtimeFailures++;
        await docker(["rm", "-f", name]);
        r = await docker(["run", "-d", "--name", name, "-p", `${port}:80`, image]);
      }
      if (r.code !== 0) throw new Error(`docker run failed (exit ${r.code}): ${r.stderr}`);
      const attempt = await tryOnce(port);
      if (attempt.connected) firstTry++;
      if (attempt.answered) answered++;
      runMs.push(r.ms);
    }
  } finally {
    for (let i = 0; i < names.length; i += 50) await docker(["rm", "-f", ...names.slice(i, i + 50)]);
  }
  return { firstTry, answered, runMs, runtimeFailures };
}
