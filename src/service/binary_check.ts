/**
 * What a candidate rdhpf binary is, read before anything is replaced: the
 * platform its executable header was built for, and the version it prints.
 * Pure; `upgrade.ts` reads the bytes and runs `--version`.
 *
 * A binary for the wrong platform would only fail at the service's next
 * start, with the old one already gone: checking the header first turns that
 * into a clear error before step one.
 *
 * @module
 */

/** Platform and architecture in Node's words (`process.platform`, `process.arch`). */
export interface BinaryPlatform {
  os: "linux" | "darwin";
  arch: "x64" | "arm64" | "other";
}

// ELF e_machine values (System V ABI) and Mach-O cputype values (mach/machine.h).
const ELF_MACHINES: Record<number, BinaryPlatform["arch"]> = { 0x3e: "x64", 0xb7: "arm64" };
const MACHO_CPUS: Record<number, BinaryPlatform["arch"]> = { 0x01000007: "x64", 0x0100000c: "arm64" };

/**
 * The platform of an executable from its first bytes (64 are plenty), or
 * null when it is neither a 64-bit little-endian ELF nor a thin 64-bit
 * Mach-O (what `bun build --compile` writes for our four targets).
 */
export function executablePlatform(header: Uint8Array): BinaryPlatform | null {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (header.length >= 20 && header[0] === 0x7f && header[1] === 0x45 && header[2] === 0x4c && header[3] === 0x46) {
    // EI_CLASS 2 = 64-bit, EI_DATA 1 = little-endian; e_machine at offset 18.
    if (header[4] !== 2 || header[5] !== 1) return null;
    return { os: "linux", arch: ELF_MACHINES[view.getUint16(18, true)] ?? "other" };
  }
  if (header.length >= 8 && view.getUint32(0, true) === 0xfeedfacf) {
    return { os: "darwin", arch: MACHO_CPUS[view.getUint32(4, true)] ?? "other" };
  }
  return null;
}


/** What a build says it is: its version and the commit it was built from ("dev" from sources, "unknown" when not printed). */
export interface BuildIdentity {
  version: string;
  commit: string;
}

/**
 * The identity from `rdhpf --version` output (`rdhpf 0.2.0 (commit 1a2b3c4,
 * …)`, one line), or null when the output is not rdhpf's. Two builds of one
 * version differ by commit, so an upgrade can tell them apart.
 */
export function parseVersionOutput(stdout: string): BuildIdentity | null {
  const lines = stdout.trim().split("\n");
  if (lines.length !== 1) return null;
  const m = /^rdhpf (\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)(?: \(commit ([^,)\s]+)[,)])?(?:\s|$)/.exec(lines[0] as string);
  return m ? { version: m[1] as string, commit: m[2] ?? "unknown" } : null;
}

/** `0.2.0 (commit 1a2b3c4)`, for reports. */
export function describeBuild(b: BuildIdentity): string {
  return b.commit === "unknown" ? b.version : `${b.version} (commit ${b.commit})`;
}

/** True when a running daemon reports the build `want` (an unknown commit on either side matches any). */
export function sameBuild(have: BuildIdentity, want: BuildIdentity): boolean {
  return have.version === want.version && (have.commit === want.commit || have.commit === "unknown" || want.commit === "unknown");
}
