/**
 * `rdhpf doctor`: runs the checks of src/doctor and prints them. Exit status
 * 0 when no check failed, 1 when one did, 2 for bad command-line input.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { doctorExitCode, DoctorFormatSchema, renderDoctor, runDoctor } from "../doctor/mod.ts";
import { parseTarget, validateSshOption } from "../ssh/mod.ts";
import { VERSION } from "../version.ts";
import { loadConfigFile } from "./config_file.ts";
import { targetSettings, withTargetOptions } from "./options.ts";
import { hasIpv6Loopback } from "../forward/mod.ts";
import { forwardingSettings, withForwardingOptions } from "./forwarding_options.ts";

export function doctorCommand(): Command<[], Record<string, unknown>> {
  return withForwardingOptions(withTargetOptions(new Command("doctor"), "connect"))
    .description("check everything rdhpf needs (ssh, host key, login, remote Docker and sshd, local ports, runtime dir) and say how to fix what fails")
    .addOption(new Option("--format <format>", "output format").choices(DoctorFormatSchema.options).default("text" as const))
    .addHelpText("after", `
Examples:
  rdhpf doctor --host ssh://docker@build-host.example
  rdhpf doctor --host dockerbox -F ~/.ssh/config
  rdhpf doctor --format json | jq '.checks[] | select(.status != "ok")'
  rdhpf doctor --host dockerbox --exclude-ports 22 --map 5432:15432   # the options you pass to run

Each check prints ✓ (ok), ⚠ (advice, or a fallback rdhpf handles), ✗ (fails,
with the fix), ? (unknown, e.g. sshd -T needs root on the Docker host) or
- (skipped because a check it depends on failed). The doctor opens one SSH
connection in BatchMode and never changes known_hosts.

Exit status: 0 when no check failed, 1 when one did, 2 for bad input.`)
    .action(async (o) => {
      const cfg = loadConfigFile(o.config);
      const env = process.env;
      const { host, hostSource, ssh } = targetSettings(o, cfg, env);
      // A malformed TARGET is bad input (exit 2), like a bad -o; a missing or unresolvable one is a failed check.
      if (host !== undefined) parseTarget(host);
      const options = ssh.options.map(validateSshOption);
      // The forwarding options `rdhpf run` would get: they decide which local ports the doctor checks.
      const { rules, binds, onConflict, maxForwards, dockerSocket, maxDockerSessions } = forwardingSettings(o, cfg);
      const report = await runDoctor({
        host,
        hostSource: hostSource ?? "the config file",
        ssh: { configFile: ssh.configFile, options },
        rules,
        binds,
        onConflict,
        maxForwards,
        dockerSocket,
        maxDockerSessions,
        env,
        rdhpfVersion: VERSION,
        hasIpv6Loopback,
      });
      process.stdout.write(renderDoctor(report, o.format));
      process.exitCode = doctorExitCode(report);
    });
}
