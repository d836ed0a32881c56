/**
 * The docker contexts that `rdhpf context install` creates, as pure plans:
 * their name, the description that marks them as rdhpf's and carries the ssh
 * host (so that `rdhpf run` finds the host again when such a context is
 * current, and `rdhpf context uninstall` removes only what install made),
 * and the docker CLI calls of install and uninstall. Running those calls
 * lives in local_context.ts; choosing the host in daemon/instance.ts.
 *
 * @module
 */
import type { DockerContext } from "./local_context.ts";

const DESCRIPTION_PREFIX = "rdhpf: Docker on ";
const DESCRIPTION_SUFFIX = " through rdhpf's socket";

/** The docker CLI's rule for context names (`docker context create` refuses others). */
const CONTEXT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;

/**
 * The description of rdhpf's context for `sshHost` (the TARGET as the user
 * gave it): the mark of an rdhpf context, and where its ssh host is kept.
 *
 * @example
 * contextDescription("ssh://docker@build-host") // "rdhpf: Docker on ssh://docker@build-host through rdhpf's socket"
 */
export function contextDescription(sshHost: string): string {
  return `${DESCRIPTION_PREFIX}${sshHost}${DESCRIPTION_SUFFIX}`;
}

/** The ssh host kept in an rdhpf context's description; null when the description is not one rdhpf wrote. */
export function sshHostOfDescription(description: string): string | null {
  if (!description.startsWith(DESCRIPTION_PREFIX) || !description.endsWith(DESCRIPTION_SUFFIX)) return null;
  const host = description.slice(DESCRIPTION_PREFIX.length, description.length - DESCRIPTION_SUFFIX.length);
  return host === "" || /\s/.test(host) ? null : host;
}

/**
 * The default context name for a target: `rdhpf-` and the host (with
 * `-<port>` when the target names one), every character the docker CLI
 * refuses in a name turned into `-`.
 *
 * @example
 * defaultContextName({ host: "build-host.example", port: 2222 }) // "rdhpf-build-host.example-2222"
 */
export function defaultContextName(target: { host: string; port: number | null }): string {
  const raw = target.port === null ? target.host : `${target.host}-${target.port}`;
  return `rdhpf-${raw.replace(/[^a-zA-Z0-9_.+-]/g, "-")}`;
}

/** Whether the docker CLI accepts `name` as a context name. */
export function isValidContextName(name: string): boolean {
  return CONTEXT_NAME.test(name);
}

/** `--docker host=unix://PATH`'s value is read as one CSV record: quote it when the path holds a comma or a quote. */
export function dockerEndpointField(socketPath: string): string {
  const field = `host=unix://${socketPath}`;
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** A step of a plan: the docker CLI's arguments, and why (for the report). */
export interface ContextStep {
  args: string[];
  says: string;
}

/** A plan, or a refusal that names what is in the way and the next step. */
export type ContextPlan = { kind: "run"; steps: ContextStep[] } | { kind: "refuse"; reason: string; hint: string };

/**
 * Install: create the context (or update the one rdhpf made before under
 * that name, e.g. after the socket path changed), then switch to it when
 * `use`. A context of that name that rdhpf did not make is left alone.
 */
export function planInstall(req: { name: string; sshHost: string; socketPath: string; use: boolean; existing: DockerContext | null }): ContextPlan {
  const { name, sshHost, socketPath, use, existing } = req;
  if (existing !== null && sshHostOfDescription(existing.description) === null) {
    return {
      kind: "refuse",
      reason: `a docker context named ${JSON.stringify(name)} exists and was not created by rdhpf (it points at ${existing.host || "no Docker endpoint"})`,
      hint: "choose another name with --name NAME, or remove that context yourself (docker context rm NAME)",
    };
  }
  const endpoint = ["--description", contextDescription(sshHost), "--docker", dockerEndpointField(socketPath)];
  const steps: ContextStep[] = existing === null
    ? [{ args: ["context", "create", name, ...endpoint], says: `created docker context ${name}` }]
    : [{ args: ["context", "update", name, ...endpoint], says: `updated docker context ${name}` }];
  if (use) steps.push({ args: ["context", "use", name], says: `switched the docker CLI to context ${name}` });
  return { kind: "run", steps };
}

/**
 * Uninstall: remove the context only when rdhpf made it; when it is the
 * current one, switch to `default` first (the docker CLI refuses to remove the
 * context in use).
 */
export function planUninstall(req: { name: string; existing: DockerContext | null; current: string | null }): ContextPlan {
  const { name, existing, current } = req;
  if (existing === null) {
    return { kind: "refuse", reason: `there is no docker context named ${JSON.stringify(name)}`, hint: "list them with `docker context ls`; rdhpf's carry a description starting with \"rdhpf:\"" };
  }
  if (sshHostOfDescription(existing.description) === null) {
    return {
      kind: "refuse",
      reason: `the docker context ${JSON.stringify(name)} was not created by rdhpf (its description is ${JSON.stringify(existing.description)}); rdhpf removes only its own`,
      hint: `remove it yourself if you mean to: docker context rm ${name}`,
    };
  }
  const steps: ContextStep[] = [];
  if (current === name) steps.push({ args: ["context", "use", "default"], says: "switched the docker CLI to context default" });
  steps.push({ args: ["context", "rm", name], says: `removed docker context ${name}` });
  return { kind: "run", steps };
}
