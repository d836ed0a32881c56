/**
 * The one place that knows file paths in the runtime dir.
 *
 * Socket paths must stay short: macOS limits a unix socket path to 104 bytes
 * (sun_path), Linux to 108. The host is therefore hashed into a short key.
 *
 * @module
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** Per-user runtime dir: `$RDHPF_STATE_DIR`, else `$XDG_RUNTIME_DIR/rdhpf`, else `~/.rdhpf`. */
export function runtimeDir(env: Record<string, string | undefined> = process.env): string {
  if (env.RDHPF_STATE_DIR) return env.RDHPF_STATE_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "rdhpf");
  return join(env.HOME || homedir(), ".rdhpf");
}

/**
 * SHA-256 of `text`, in hex. node:crypto is loaded on first use, not
 * imported: loading it takes ~5 ms, and `rdhpf status` without --host never
 * hashes (it finds instances by their files' names).
 */
function sha256Hex(text: string): string {
  return process.getBuiltinModule("node:crypto").createHash("sha256").update(text).digest("hex");
}

/** Short stable key for a host identity (e.g. "root@10.200.0.2:22"). */
export function hostKey(identity: string): string {
  return sha256Hex(identity).slice(0, 12);
}

/** All files that belong to one instance (one remote host). */
export interface InstancePaths {
  dir: string;
  key: string;
  /** OpenSSH ControlPath of the master. */
  controlSocket: string;
  /** The master's stderr (rotated at each master start, size-capped): outlives the rdhpf that started it. */
  masterStderr: string;
  /** Local end of the forwarded remote Docker socket. */
  dockerSocket: string;
  /** rdhpf's own status/control socket. */
  controlApiSocket: string;
  /** Lock / pid file: `{pid, masterPid, host}` JSON. */
  lockFile: string;
  /** Last status document, written atomically. */
  stateFile: string;
  /** Remote Docker endpoint found last time (start-up shortcut); written only after a successful discovery. */
  endpointCache: string;
  /**
   * Where rdhpf 0.1.0 kept that cache. It could hold the default endpoint
   * written after a FAILED discovery (another daemon than the user's), so it
   * is never read: it is removed, and the first start after an upgrade asks
   * the remote once.
   */
  legacyEndpointCache: string;
}

export function instancePaths(dir: string, identity: string): InstancePaths {
  return instancePathsOfKey(dir, hostKey(identity));
}

/** The paths of the instance whose key (`hostKey` of its identity) is `key`. */
export function instancePathsOfKey(dir: string, key: string): InstancePaths {
  return {
    dir,
    key,
    controlSocket: join(dir, `${key}.ssh.sock`),
    masterStderr: join(dir, `${key}.ssh.stderr`),
    dockerSocket: join(dir, `${key}.docker.sock`),
    controlApiSocket: join(dir, `${key}.api.sock`),
    lockFile: join(dir, `${key}.lock`),
    stateFile: join(dir, `${key}.state.json`),
    endpointCache: join(dir, `${key}.docker-endpoint`),
    legacyEndpointCache: join(dir, `${key}.endpoint`),
  };
}

/** Longest unix socket path in bytes, without the terminating NUL: sun_path is 104 bytes on macOS, 108 on Linux. */
export function maxSocketPathBytes(platform: string = process.platform): number {
  return (platform === "linux" ? 108 : 104) - 1;
}

/** Hex digits of the hash that keeps a too-long name unique. */
const NAME_HASH_CHARS = 10;

/**
 * Where `rdhpf run` serves its Docker Engine socket for one host by default:
 * `<runtime dir>/<name>.sock`, `<name>` being the ssh alias or host (with
 * `-<port>` when the target names a port), every character outside
 * `[A-Za-z0-9._-]` turned into `_`. Only when the path would exceed the
 * platform's sun_path limit is the name cut and a hash of the whole name
 * appended, so that it stays unique and stable.
 *
 * @example
 * dockerClientSocketPath("/run/user/1000/rdhpf", { host: "build-box", port: null }) // "/run/user/1000/rdhpf/build-box.sock"
 */
export function dockerClientSocketPath(dir: string, target: { host: string; port: number | null }, platform: string = process.platform): string {
  const raw = target.port === null ? target.host : `${target.host}-${target.port}`;
  // A leading dot would hide the file and "." or ".." would name a directory.
  let name = raw.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\./, "_");
  // `<key>.api.sock` and its siblings are instance files that `rdhpf status` looks for.
  if (/\.(api|ssh|docker)$/.test(name)) name += "_";
  const limit = maxSocketPathBytes(platform);
  const whole = join(dir, `${name}.sock`);
  if (Buffer.byteLength(whole) <= limit) return whole;
  const hash = sha256Hex(raw).slice(0, NAME_HASH_CHARS);
  const room = limit - Buffer.byteLength(join(dir, `-${hash}.sock`));
  // A runtime dir so long that no name fits: the hash alone, and listen() says what is wrong.
  return room <= 0 ? join(dir, `${hash}.sock`) : join(dir, `${name.slice(0, room)}-${hash}.sock`);
}
