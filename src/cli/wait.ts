/**
 * `rdhpf wait`: block until ports are forwarded and answer, for CI:
 * `docker run -d -p 5432:5432 postgres && rdhpf wait --port 5432 && npm test`.
 *
 * @module
 */
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { usageError } from "../errors.ts";
import { PORT_HINT, parsePortText } from "../port.ts";
import { parseDuration, waitUntilReady } from "../status/mod.ts";
import { collect, withTargetOptions } from "./options.ts";
import { resolveSelection } from "./status.ts";

/** Commander reducer for repeatable `--port`: an integer 1-65535. */
export function collectPort(value: string, previous: number[]): number[] {
  const p = parsePortText(value);
  if (!p.ok) throw new InvalidArgumentError(`${PORT_HINT}, e.g. --port 5432`);
  return [...previous, p.port];
}

export function waitCommand(): Command<[], Record<string, unknown>> {
  return withTargetOptions(new Command("wait"), "select")
    .description("wait until ports are forwarded and a connection through them succeeds (exit 0), or time out (exit 1)")
    .option("--port <port>", "local port that must answer (repeatable)", collectPort, [] as number[])
    .option("--container <name>", "container (name or ID prefix) whose every TCP port must answer (repeatable)", collect, [] as string[])
    .option("--all", "every published TCP port of the host must answer")
    .option("--timeout <duration>", "give up after this long: 500ms, 30s, 2m (at most 24h)", "30s")
    .addHelpText("after", `
Examples:
  docker run -d -p 5432:5432 postgres && rdhpf wait --port 5432 && npm test
  rdhpf wait --container web --container api --timeout 2m
  rdhpf wait --host ssh://docker@build-host --all

"Answers" means: the forward is active in rdhpf's status and a TCP connection
to 127.0.0.1:PORT stays open through the tunnel (the remote end accepted it).
Waits for rdhpf itself to come up, too. On timeout it prints what is still
missing and why (conflict and its reason, not published, container not
running, rdhpf not running).

Exit status: 0 ready; 1 timed out; 2 usage error, or several instances
running and no --host.`)
    .action(async (o) => {
      if (o.port.length === 0 && o.container.length === 0 && !o.all) {
        throw usageError("nothing to wait for", "give --port PORT, --container NAME (both repeatable) or --all");
      }
      const timeoutMs = parseDuration(o.timeout);
      if (timeoutMs === null) {
        throw usageError(`invalid --timeout ${JSON.stringify(o.timeout)}`, "give a duration such as 500ms, 30s, 2m or 1h (at most 24h)");
      }
      const selection = await resolveSelection(o);
      process.exitCode = await waitUntilReady({
        selection,
        request: { ports: o.port, containers: o.container, all: o.all === true },
        timeoutMs,
        io: { stdout: process.stdout, stderr: process.stderr },
      });
    });
}
