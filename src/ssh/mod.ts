/**
 * The SSH layer: one ControlMaster owned by rdhpf (`SshMaster`), every other
 * operation through its socket (`Mux`), every ssh command line from one
 * builder (`sshArgv`), and TARGETs checked before ssh sees them
 * (`parseTarget`).
 *
 * @example
 * ```ts
 * const ctx = { sshBinary: "ssh", configFile: null, options: [], target: parseTarget("ssh://root@host"), controlPath };
 * const master = new SshMaster(ctx);
 * await master.start();
 * const mux = new Mux(ctx, { masterLog: master });
 * const r = await mux.forward([{ bindAddress: "127.0.0.1", localPort: 5432, remoteHost: "127.0.0.1", remotePort: 5432 }]);
 * ```
 *
 * @module
 */
export { forwardSpec, type LocalForward, type SshContext, type SshOperation, sshArgv } from "./argv.ts";
export { classifySshStderr, isConfigurationFailure, SshConnectError, type SshErrorKind, type SshFailure } from "./errors.ts";
export { type MasterExitInfo, type MasterLog, SshMaster, type SshMasterOptions } from "./master.ts";
export { type ExecResult, type FailedForward, failureReason, Mux, type MuxOptions, type MuxResult } from "./mux.ts";
export { runSsh, type SshRunResult, spawnSsh } from "./process.ts";
export { instanceIdentity, parseSshG, type ResolvedTarget, resolveTarget } from "./resolve.ts";
export { defaultTargetFromEnv, destination, parseTarget, type SshTarget, SshTargetSchema, validateSshOption } from "./target.ts";
