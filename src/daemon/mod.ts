/**
 * The running forwarder: one `Engine` per Docker host (SSH session, Docker
 * watch, reconciles, status), the instance it serves (`resolveInstance`), its
 * lock, its control socket and its runtime dir. Everything outside this
 * folder uses it through this module.
 *
 * @example
 * ```ts
 * const instance = await resolveInstance("dockerbox", { configFile: null, options: [] });
 * console.log(instance.identity, instance.paths.controlApiSocket); // root@10.0.0.2:22 …/3f2a….api.sock
 * ```
 *
 * @module
 */
export { decideAdoption, inspectPrevious } from "./adoption.ts";
export { startControlServer } from "./control_server.ts";
export { endpointToOpen, openDockerLink } from "./docker_link.ts";
export { DockerSocketServer, WAIT_FOR_LINK_MS } from "./docker_socket.ts";
export { Engine } from "./engine.ts";
export { chooseTarget, hostServingSocket, resolveInstance, type ResolvedInstance, type SshCliOptions } from "./instance.ts";
export { InstanceLock } from "./lock.ts";
export { isLoopback, type MetricsListen, startMetricsServer } from "./metrics_server.ts";
export { currentUid, ensurePrivateDir, privateDirVerdict } from "./state_file.ts";
