/**
 * The runtime dir: created private (0700), and an existing one checked, since
 * it holds the SSH control socket. Its files are written with
 * `writeFileAtomic` (src/atomic_file.ts).
 *
 * @module
 */
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { RdhpfError } from "../errors.ts";

/**
 * Creates the runtime dir 0700 or checks an existing one: it must belong to
 * this user and be closed to group and others, because it holds the SSH
 * control socket (whoever can connect to it can use the SSH connection).
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  const verdict = privateDirVerdict(dir, st, currentUid());
  if (verdict instanceof RdhpfError) throw verdict;
  // Readable but not writable by others: tighten it, we created it or own it.
  if (verdict === "tighten") chmodSync(dir, 0o700);
}

/** This process's uid (also where process.getuid is missing). */
export function currentUid(): number {
  return typeof process.getuid === "function" ? process.getuid() : userInfo().uid;
}

/**
 * The rule `ensurePrivateDir` applies to an existing runtime dir, without
 * touching it (doctor uses it too): "ok", "tighten" (readable by others,
 * `ensurePrivateDir` makes it 0700) or the error that refuses it.
 */
export function privateDirVerdict(dir: string, st: { uid: number; mode: number }, uid: number): "ok" | "tighten" | RdhpfError {
  if (st.uid !== uid) {
    return new RdhpfError(
      `runtime dir ${dir} belongs to uid ${st.uid}, not to you (uid ${uid})`,
      "set RDHPF_STATE_DIR to a directory of your own, or remove that directory",
      2,
    );
  }
  if ((st.mode & 0o077) === 0) return "ok";
  if ((st.mode & 0o022) !== 0) {
    return new RdhpfError(
      `runtime dir ${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`,
      `run \`chmod 700 ${dir}\` or point RDHPF_STATE_DIR elsewhere`,
      2,
    );
  }
  return "tighten";
}
