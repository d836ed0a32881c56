/**
 * From containers to forwards: the port rules, the desired forwards (pure),
 * `--on-conflict next-free`, the plan against what the master holds (pure),
 * and the applier that carries it out through a backend (the ssh mux).
 * Everything outside this folder uses it through this module.
 *
 * @module
 */
export { ForwardApplier, type ApplyOutcome, type BackendResult, type BlockedForward, type EndedForward, type ForwardBackend } from "./applier.ts";
export { OnConflictSchema, resolveConflicts, type OnConflict, type Relocation } from "./conflict.ts";
export { DEFAULT_MAX_FORWARDS, desiredForwards, MaxForwardsSchema, overCapReason, type DesiredForward } from "./desired.ts";
export { planForwards, type ActiveForward } from "./diff.ts";
export { hasIpv6Loopback, listenAddresses } from "./listen.ts";
export { findPortOwner } from "./port_owner.ts";
export { localPortProbe } from "./port_probe.ts";
export { NO_RULES, parsePortMap, parsePortRanges, type PortRules } from "./rules.ts";
