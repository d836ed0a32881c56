/**
 * The test image, built without a registry: Debian's static busybox plus
 * applet symlinks, imported with `docker import`. Its default command serves
 * /www over HTTP on port 80.
 *
 * @module
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExecResult } from "./_exec.ts";
import { run } from "./_exec.ts";

/** Name of the image every test bed provides. */
export const TESTBED_IMAGE = "rdhpf-busybox:test";

/** Exact body of GET / on a container of {@link TESTBED_IMAGE}. */
export const TESTBED_INDEX_HTML = "rdhpf test bed: hello from busybox httpd\n";

/** Debian busybox-static installs its binary here. */
export const BUSYBOX_PATH = "/bin/busybox";

const APPLETS = [
  "sh", "httpd", "nc", "sleep", "echo", "cat", "wget", "ls", "mkdir", "rm", "cp", "mv", "ps", "kill",
  "true", "false", "env", "id", "hostname", "date", "grep", "sed", "printf", "test", "touch", "timeout",
  "seq", "head", "tail", "netstat", "ip", "ifconfig", "nslookup", "wc", "tr", "yes", "dd", "uname",
];

/** Writes rootfs.tar into dir (about 2 MB, milliseconds). */
export async function buildRootfsTar(dir: string): Promise<string> {
  const root = join(dir, "rootfs");
  for (const d of ["bin", "www", "tmp", "etc"]) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX_PATH, join(root, "bin", "busybox"));
  for (const a of APPLETS) symlinkSync("busybox", join(root, "bin", a));
  writeFileSync(join(root, "www", "index.html"), TESTBED_INDEX_HTML);
  writeFileSync(join(root, "etc", "passwd"), "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  writeFileSync(join(root, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
  const tarFile = join(dir, "rootfs.tar");
  const r = await run(["tar", "-C", root, "--owner=0", "--group=0", "-cf", tarFile, "."]);
  if (r.code !== 0) throw new Error(`building the test image rootfs failed: tar exited ${r.code}: ${r.stderr.trim()}`);
  return tarFile;
}

/** Imports the rootfs tarball as {@link TESTBED_IMAGE} through `docker`. */
export async function importImage(docker: (args: string[]) => Promise<ExecResult>, tarFile: string): Promise<void> {
  const r = await docker(["import", "-c", 'CMD ["/bin/httpd","-f","-p","80","-h","/www"]', "-c", "EXPOSE 80", tarFile, TESTBED_IMAGE]);
  if (r.code !== 0) throw new Error(`docker import of ${TESTBED_IMAGE} failed (exit ${r.code}): ${r.stderr.trim()}`);
}
