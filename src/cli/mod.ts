/**
 * The command tree. Commands only parse, call and print; the work lives in
 * src/daemon, src/forward, src/ssh, src/docker and src/status.
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { z } from "zod";
import { formatError, RdhpfError } from "../errors.ts";
import { versionLine } from "../version.ts";

/**
 * Each command's module, imported only when that command runs: `rdhpf
 * status` does not pay for loading the daemon, doctor or service code
 * (start-up figures in docs/performance.md). Listed in help order.
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: (getProgram: () => Command) => Promise<Command>]> = [
  ["run", async () => (await import("./run.ts")).runCommand()],
  ["status", async () => (await import("./status.ts")).statusCommand()],
  ["wait", async () => (await import("./wait.ts")).waitCommand()],
  ["service", async () => (await import("./service.ts")).serviceCommand()],
  ["doctor", async () => (await import("./doctor.ts")).doctorCommand()],
  ["env", async () => (await import("./env.ts")).envCommand()],
  ["context", async () => (await import("./context.ts")).contextCommand()],
  ["completions", async (getProgram) => (await import("./completions.ts")).completionsCommand(getProgram)],
];

/**
 * The command names `argv` needs: just the one it runs, or all of them for
 * the top-level help, an unknown command and the completion scripts (which
 * describe the whole tree).
 */
export function commandsNeeded(argv: readonly string[]): string[] {
  const all = COMMANDS.map(([name]) => name);
  const first = argv[0];
  return first !== undefined && first !== "completions" && all.includes(first) ? [first] : all;
}

/** The command tree with the commands `only` names (default: all). */
export async function buildProgram(only: readonly string[] = COMMANDS.map(([name]) => name)): Promise<Command> {
  const program = new Command("rdhpf")
    .description("Remote Docker Host Port Forwarder: every TCP port published on a remote Docker host (DOCKER_HOST=ssh://...) reachable on localhost, over one SSH connection")
    .version(versionLine(), "-V, --version", "print the version and exit")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", `
Examples:
  rdhpf run --host ssh://docker@build-host.example     forward every published port
  rdhpf status                                         what is forwarded, and health
  eval "$(rdhpf env)" && docker ps                     docker through rdhpf's one SSH connection
  rdhpf context install --use && docker ps             the same, as a docker context
  docker run -d -p 5432:5432 postgres && rdhpf wait --port 5432 && npm test
  rdhpf service install --host ssh://docker@build-host.example
  rdhpf doctor --host ssh://docker@build-host.example  check ssh, Docker, sshd and local ports
  rdhpf --version

Environment: RDHPF_HOST (default TARGET), DOCKER_HOST (used when ssh://), then
DOCKER_CONTEXT or the current docker context (used when its endpoint is ssh://),
RDHPF_LOG_LEVEL, RDHPF_STATE_DIR (runtime dir), NO_COLOR.`);
  const loaded = await Promise.all(COMMANDS.filter(([name]) => only.includes(name)).map(([, load]) => load(() => program)));
  for (const cmd of loaded) program.addCommand(cmd);
  program.addCommand(
    new Command("version").description("print the version and exit").action(() => {
      console.log(versionLine());
    }),
  );
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Runs the CLI; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  // Zod compiles an object schema to a function on its first parse. That
  // pays off in the daemon, which parses Docker's answers for hours; a
  // command that parses a few documents once pays more than it saves (the
  // status document: ~12 ms compiled, ~2 ms interpreted, of `rdhpf
  // status`'s ~50 ms; docs/performance.md).
  if (argv[0] !== "run") z.config({ jitless: true });
  const program = await buildProgram(commandsNeeded(argv));
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; parse errors exit 2.
      return err.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`${formatError(err)}\n`);
    return err instanceof RdhpfError ? err.exitCode : 1;
  }
}
