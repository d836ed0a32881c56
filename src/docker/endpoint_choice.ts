/**
 * Which remote Docker endpoint rdhpf talks to, given the one it knows (from
 * the cache or the running link) and what discovery said. Talking to the
 * wrong daemon is worse than talking to none: a host often runs a rootless
 * or non-default daemon (the user's DOCKER_HOST) next to a rootful one on
 * /var/run/docker.sock, and forwarding the other one's containers would be
 * silent. So only a successful discovery moves the endpoint; a failed one
 * never does, and the default is never a fallback for an error.
 *
 * @module
 */
import { DEFAULT_ENDPOINT, type DiscoveryOutcome } from "./endpoint.ts";

/**
 * - "use": talk to `endpoint`; `changedFrom` is the known endpoint it
 *   replaces (null when nothing was known or nothing changed);
 * - "keep": discovery failed; the known endpoint stays;
 * - "unknown": discovery failed and nothing is known: do not guess, retry.
 */
export type EndpointChoice =
  | { kind: "use"; endpoint: string; changedFrom: string | null }
  | { kind: "keep"; endpoint: string; reason: string }
  | { kind: "unknown"; reason: string };

/**
 * @example
 * chooseEndpoint("unix:///run/user/1000/docker.sock", { kind: "failed", reason: "timed out" })
 * // { kind: "keep", endpoint: "unix:///run/user/1000/docker.sock", reason: "timed out" }
 */
export function chooseEndpoint(known: string | null, outcome: DiscoveryOutcome): EndpointChoice {
  if (outcome.kind === "failed") {
    return known === null ? { kind: "unknown", reason: outcome.reason } : { kind: "keep", endpoint: known, reason: outcome.reason };
  }
  const endpoint = outcome.kind === "reported" ? outcome.endpoint : DEFAULT_ENDPOINT;
  return { kind: "use", endpoint, changedFrom: known !== null && known !== endpoint ? known : null };
}
