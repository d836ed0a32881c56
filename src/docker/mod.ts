/**
 * The Docker Engine API, spoken over a local unix socket that reaches the
 * remote engine: the client, the event filter, the remote endpoint (how it is
 * discovered and when it may change), the dial-stdio relay, and the observed
 * containers with their published ports. Everything outside this folder uses
 * it through this module.
 *
 * @module
 */
export { EngineClient, type EngineInfo } from "./client.ts";
export { ENDPOINT_DISCOVERY_COMMAND, parseEndpoint, readDiscovery, type DiscoveryOutcome } from "./endpoint.ts";
export { chooseEndpoint } from "./endpoint_choice.ts";
export { containerEventEffect, type EventEffect, isContainerLifecycleEvent } from "./events.ts";
export { type BoundaryEvent, HttpBoundaries, type RequestHead } from "./http_boundaries.ts";
export { currentDockerContext, type DockerCliResult, type DockerContext, inspectDockerContext, runDockerCli } from "./local_context.ts";
export { type ContextPlan, type ContextStep, contextDescription, defaultContextName, isValidContextName, planInstall, planUninstall, sshHostOfDescription } from "./rdhpf_context.ts";
export { type BridgeCounts, DEFAULT_MAX_BRIDGES, startDialStdioRelay } from "./relay.ts";
export { type ObservedContainer, type PublishedPort } from "./types.ts";
