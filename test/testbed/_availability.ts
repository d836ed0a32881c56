/**
 * Whether this machine can host a test bed: Linux, root, and the programs of
 * the Debian packages docker.io, openssh-server, openssh-client,
 * busybox-static, iproute2, curl, util-linux and prometheus.
 *
 * @module
 */
import { accessSync, closeSync, constants, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { pathWithSbin } from "./_exec.ts";
import { BUSYBOX_PATH } from "./_image.ts";

/** Program → Debian package that provides it. */
const REQUIRED: Record<string, string> = {
  ip: "iproute2",
  nsenter: "util-linux",
  umount: "mount",
  dockerd: "docker.io",
  "docker-proxy": "docker.io",
  "docker-init": "docker.io",
  docker: "docker.io",
  containerd: "containerd",
  "containerd-shim-runc-v2": "containerd",
  runc: "runc",
  iptables: "iptables",
  sshd: "openssh-server",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  tar: "tar",
  curl: "curl",
  prometheus: "prometheus",
  promtool: "prometheus",
};

/** Absolute path of an executable on PATH (sbin dirs included), or null. */
export function which(cmd: string): string | null {
  for (const d of pathWithSbin().split(":")) {
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * Whether an ELF executable has no PT_INTERP header, i.e. runs inside an empty
 * image. Debian's dynamic `busybox` package also installs /bin/busybox.
 */
export function isStaticElf(path: string): boolean {
  const buf = Buffer.alloc(4096);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return false;
  }
  try {
    readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return false; // 64-bit little-endian ELF only
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > buf.length) return false;
    if (buf.readUInt32LE(off) === 3) return false; // PT_INTERP
  }
  return true;
}

/** With AppArmor on, dockerd needs apparmor_parser to load the profile every container runs under. */
function appArmorEnabled(): boolean {
  try {
    return readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").startsWith("Y");
  } catch {
    return false;
  }
}

/** Whether a test bed can be built here, and if not, why and what to do. */
export function checkAvailability(): { available: boolean; reason: string } {
  if (process.platform !== "linux") return { available: false, reason: `the test bed needs Linux network namespaces; this is ${process.platform}` };
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(REQUIRED)) if (!which(cmd)) missing.push(`${cmd} (${pkg})`);
  if (!isStaticElf(BUSYBOX_PATH)) missing.push(`static ${BUSYBOX_PATH} (busybox-static)`);
  if (appArmorEnabled() && !which("apparmor_parser")) missing.push("apparmor_parser (apparmor)");
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || missing.length > 0) {
    const why = [!isRoot ? "not running as root (network namespaces, dockerd and sshd need it)" : "", missing.length > 0 ? `missing: ${missing.join(", ")}` : ""]
      .filter(Boolean)
      .join("; ");
    return { available: false, reason: `${why}; run \`sudo bash scripts/bootstrap.sh\` and the tests as root` };
  }
  return { available: true, reason: "root, and dockerd, containerd, sshd, busybox-static, iproute2, curl and util-linux are installed" };
}
