/**
 * Running service-manager commands (launchctl, systemctl) on this machine:
 * the runner (no shell, bounded time), retries for commands that race the
 * previous one, one line of report per command, and whether this machine can
 * run them at all. Apart from the plan, which is pure, and from
 * `install.ts`, which decides what to run when.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { RdhpfError } from "../errors.ts";
import { shellLine } from "../shell_words.ts";
import { sleep } from "../sleep.ts";
import type { ServiceCommand, ServicePlatform } from "./plan.ts";

const log = getLogger(["rdhpf", "service"]);

/** Result of running one command. */
export interface CommandResult {
  argv: string[];
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one argv (no shell). Injected in tests. */
export type CommandRunner = (argv: string[]) => Promise<CommandResult>;

/** Runs argv with execFile, 30 s timeout. */
export const execServiceCommand: CommandRunner = (argv) =>
  new Promise((resolve) => {
    log.debug("running service manager command", { argv });
    const [file, ...args] = argv;
    execFile(file as string, args, { timeout: 30_000, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ argv, code, stdout, stderr: stderr || (err && typeof err.code !== "number" ? err.message : "") });
    });
  });

/** True when `name` is an executable file in one of the PATH directories. */
export function onPath(name: string, pathEnv: string | undefined = process.env.PATH): boolean {
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** True when `path` is an executable file here. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Whether this machine can run the plan's commands: same platform, and the tool is on PATH. */
export function canRunCommands(platform: ServicePlatform, hostPlatform: string = process.platform, pathEnv?: string): boolean {
  return platform === hostPlatform && onPath(platform === "darwin" ? "launchctl" : "systemctl", pathEnv);
}

/** How commands run and report; part of the options of install and uninstall. */
export interface RunOptions {
  run?: CommandRunner;
  print?: (line: string) => void;
  /** Pause between retries; tests pass 0. */
  retryDelayMs?: number;
}

/** Writes one line to stdout: where the service commands report by default. */
export const printLine = (line: string) => void process.stdout.write(`${line}\n`);

/** Prints `commands` under `title`, for the user to run on the target machine. */
export function printCommands(print: (line: string) => void, title: string, commands: ServiceCommand[]): void {
  if (commands.length === 0) return;
  print(title);
  for (const c of commands) print(`  ${shellLine(c.argv)}${c.mayFail ? "   # may fail when not loaded" : ""}`);
}

/**
 * Runs `commands` in order, each retried `retries` times 1 s apart, and
 * reports each one. A failure throws with `hint`, unless the command may fail.
 */
export async function runCommands(commands: ServiceCommand[], opts: RunOptions, hint: string | null): Promise<CommandResult[]> {
  const run = opts.run ?? execServiceCommand;
  const print = opts.print ?? printLine;
  const results: CommandResult[] = [];
  for (const c of commands) {
    let result = await run(c.argv);
    for (let attempt = 0; result.code !== 0 && attempt < c.retries; attempt++) {
      await sleep(opts.retryDelayMs ?? 1000);
      result = await run(c.argv);
    }
    results.push(result);
    const line = shellLine(c.argv);
    if (result.code === 0) {
      print(`ran: ${line}`);
    } else if (c.mayFail) {
      print(`ran: ${line} (exit ${result.code}, expected when not loaded)`);
    } else {
      throw new RdhpfError(
        `${line} failed with exit ${result.code}: ${(result.stderr || result.stdout).trim()}`,
        hint,
      );
    }
  }
  return results;
}
