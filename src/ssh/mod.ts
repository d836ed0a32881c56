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
export { type LocalForward, type SshContext } from "./argv.ts";
export { lintSshConfig, readUserSshConfig, type SshConfigFinding } from "./config_lint.ts";
export { isConfigurationFailure, retryWhileRunning, SshConnectError, type SshErrorKind } from "./errors.ts";
export { SshMaster } from "./master.ts";
export { Mux } from "./mux.ts";
export { runSsh } from "./process.ts";
export { instanceIdentity, resolveTarget, sshGValues } from "./resolve.ts";
export { defaultTargetFromEnv, parseTarget, validateSshOption, type SshTarget } from "./target.ts";
