/**
 * `rdhpf status`: what is forwarded and how healthy rdhpf is. The work is in
 * src/status (query, render, exit status); this file parses and calls.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { runtimeDir } from "../paths.ts";
import { type InstanceSelection, showStatus, StatusFormatSchema } from "../status/mod.ts";
import { targetSettings, withTargetOptions } from "./options.ts";

/** The options `status` and `wait` share to find an instance. */
export interface InstanceCliOptions {
  host?: string;
  sshConfig?: string;
  sshOption: string[];
  config?: string;
}

/**
 * All instances in the runtime dir, or with `--host` the one `rdhpf run`
 * started for the same TARGET: resolved the same way (ssh -G, with the
 * config file's ssh settings as defaults), so alias and URL forms both match.
 */
export async function resolveSelection(o: InstanceCliOptions, env = process.env): Promise<InstanceSelection> {
  const dir = runtimeDir(env);
  if (o.host === undefined) return { dir, host: null };
  // Imported here, not at the top: without --host, status and wait need
  // neither, and the daemon's module graph (which holds resolveInstance) is
  // most of what `rdhpf status` would otherwise load (docs/performance.md).
  const [{ loadConfigFile }, { resolveInstance }] = await Promise.all([import("./config_file.ts"), import("../daemon/mod.ts")]);
  const cfg = loadConfigFile(o.config, env);
  const instance = await resolveInstance(o.host, targetSettings(o, cfg, env).ssh, env);
  return { dir, host: { target: o.host, files: instance.paths } };
}

export function statusCommand(): Command<[], Record<string, unknown>> {
  return withTargetOptions(new Command("status"), "select")
    .description("show what rdhpf forwards and how healthy it is (asks the running daemon; when none answers, shows its last state, marked stale)")
    .addOption(new Option("--format <format>", "output format").choices(StatusFormatSchema.options).default("table" as const))
    .option("--watch", "redraw every second until Ctrl+C")
    .addHelpText("after", `
Examples:
  rdhpf status                                  every instance of this user
  rdhpf status --host ssh://docker@build-host   the one started with that TARGET
  rdhpf status --format json | jq '.instances[].forwards[] | select(.state == "conflict")'
  rdhpf status --host build --format openmetrics     metrics (also: prometheus); rdhpf run --metrics-listen serves them
  rdhpf status --watch

JSON and YAML: with --host, that instance's document; without, {"instances": [...]}.
Fields, units and metric names: docs/status.md.

Exit status: 0 running and healthy (connected, no forward in conflict);
1 not running (nothing answers; the last state is shown, marked stale);
2 usage error; 3 running but degraded (starting, reconnecting, degraded,
or a forward in conflict). With --watch: 0 after Ctrl+C.`)
    .action(async (o) => {
      const selection = await resolveSelection(o);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      if (o.watch) for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, onSignal);
      try {
        process.exitCode = await showStatus({
          selection,
          format: o.format,
          watch: o.watch === true,
          io: { stdout: process.stdout, stderr: process.stderr, env: process.env },
          signal: stop.signal,
        });
      } finally {
        for (const sig of ["SIGINT", "SIGTERM"] as const) process.off(sig, onSignal);
      }
    });
}
