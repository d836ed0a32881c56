/**
 * What a TARGET really means: ssh's own evaluation of its config (`ssh -G`,
 * honouring Host, Match and Include) gives the user, host name and port. No
 * network is used. The result names the instance's runtime files.
 *
 * @module
 */
import { z } from "zod";
import { RdhpfError } from "../errors.ts";
import { PortSchema } from "../port.ts";
import type { SshContext } from "./argv.ts";
import { classifySshStderr } from "./errors.ts";
import { runSsh } from "./process.ts";

export const ResolvedTargetSchema = z.object({
  user: z.string().min(1),
  hostname: z.string().min(1),
  port: PortSchema,
});
/** The login ssh will really make. */
export type ResolvedTarget = z.infer<typeof ResolvedTargetSchema>;

/**
 * Every value of `ssh -G` output ("key value" per line), keys in lower case.
 * Repeatable keys (identityfile, ...) come once per value, in ssh's order;
 * for the others the first value is the one ssh uses.
 */
export function sshGValues(stdout: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    values.set(key, [...(values.get(key) ?? []), m[2]!]);
  }
  return values;
}

/**
 * Parses `ssh -G` output ("key value" per line, keys in lower case). Throws
 * when user, hostname or port is missing or malformed.
 */
export function parseSshG(stdout: string): ResolvedTarget {
  const values = sshGValues(stdout);
  const portText = values.get("port")?.[0] ?? "";
  const parsed = ResolvedTargetSchema.safeParse({
    user: values.get("user")?.[0],
    hostname: values.get("hostname")?.[0],
    port: /^\d+$/.test(portText) ? Number(portText) : NaN,
  });
  if (!parsed.success) {
    throw new RdhpfError("ssh -G printed no usable user, hostname and port", "run ssh -G TARGET to see ssh's evaluation of the config", 2);
  }
  return parsed.data;
}

/**
 * True when ssh dials hostname:port itself: no ProxyJump and no
 * ProxyCommand ("none" switches either off).
 */
export function connectsDirectly(values: Map<string, string[]>): boolean {
  const set = (key: string) => {
    const v = values.get(key)?.[0];
    return v !== undefined && v.toLowerCase() !== "none";
  };
  return !set("proxyjump") && !set("proxycommand");
}

/** The instance identity used for runtime file names: "user@hostname:port". */
export function instanceIdentity(r: ResolvedTarget): string {
  return `${r.user}@${r.hostname}:${r.port}`;
}

/** Resolves the context's target with `ssh -G` (same -F and -o as the master); `direct` as in {@link connectsDirectly}. */
export async function resolveTarget(ctx: SshContext): Promise<{ target: ResolvedTarget; direct: boolean }> {
  const r = await runSsh({ kind: "resolve" }, ctx, { timeoutMs: 5000 });
  if (r.code !== 0) {
    const f = classifySshStderr(r.stderr);
    throw new RdhpfError(
      `ssh cannot evaluate its configuration for ${ctx.target.raw}: ${f.message || `exit code ${r.code}`}`,
      f.hint ?? `check the ssh config${ctx.configFile ? ` ${ctx.configFile}` : ""} and the -o options (ssh -G TARGET shows ssh's view)`,
      2,
    );
  }
  return { target: parseSshG(r.stdout), direct: connectsDirectly(sshGValues(r.stdout)) };
}
