/**
 * Build identity. `scripts/build-binaries.ts` injects the commit and build
 * time with `bun build --define`; running from source shows "dev".
 *
 * @module
 */
import pkg from "../package.json" with { type: "json" };

declare const RDHPF_COMMIT: string;
declare const RDHPF_BUILT_AT: string;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof RDHPF_COMMIT === "string" ? RDHPF_COMMIT : "dev";
export const BUILT_AT: string | null = typeof RDHPF_BUILT_AT === "string" ? RDHPF_BUILT_AT : null;

/** "linux-x64", "darwin-arm64": the names of the release binaries. */
export function platformName(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** `rdhpf 0.1.0 (commit 1a2b3c4, built 2026-11-27T18:00:00Z, linux-x64)` */
export function versionLine(): string {
  const built = BUILT_AT ? `, built ${BUILT_AT}` : ", not a release build";
  return `rdhpf ${VERSION} (commit ${COMMIT}${built}, ${platformName()})`;
}
