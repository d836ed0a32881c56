/**
 * containerd and dockerd of one test bed, each with its own state, sockets
 * and pid so that several test beds (and a system Docker) coexist.
 *
 * We start containerd ourselves instead of letting dockerd spawn one: dockerd
 * 20.10 silently attaches to the system containerd whenever
 * /run/containerd/containerd.sock exists, which would mix test beds.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { run } from "./_exec.ts";
import { exists, pingDocker, spawnInNetns, waitFor } from "./_daemons.ts";
import { netnsPath } from "./_network.ts";
import { isOurs, terminate } from "./_procs.ts";

const log = getLogger(["rdhpf", "testbed"]);

/** File layout of the Docker side of a test bed. */
export interface DockerPaths {
  dir: string;
  dataRoot: string;
  execRoot: string;
  containerdDir: string;
  containerdSocket: string;
  containerdConfig: string;
  containerdLog: string;
  dockerSocket: string;
  dockerPidFile: string;
  dockerConfigFile: string;
  dockerLog: string;
  /** DOCKER_CONFIG for our docker CLI calls, so ~/.docker is never read or written. */
  cliConfigDir: string;
}

/** Paths under the test bed dir (kept short: unix socket paths are limited to 108 bytes). */
export function dockerPaths(dir: string): DockerPaths {
  return {
    dir,
    dataRoot: join(dir, "data"),
    execRoot: join(dir, "exec"),
    containerdDir: join(dir, "ctd"),
    containerdSocket: join(dir, "ctd", "containerd.sock"),
    containerdConfig: join(dir, "ctd", "config.toml"),
    containerdLog: join(dir, "containerd.log"),
    dockerSocket: join(dir, "docker.sock"),
    dockerPidFile: join(dir, "dockerd.pid"),
    dockerConfigFile: join(dir, "daemon.json"),
    dockerLog: join(dir, "dockerd.log"),
    cliConfigDir: join(dir, "cli"),
  };
}

function containerdToml(p: DockerPaths): string {
  return [
    "version = 2",
    `root = "${join(p.containerdDir, "root")}"`,
    `state = "${join(p.containerdDir, "state")}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    "",
    "[grpc]",
    `  address = "${p.containerdSocket}"`,
    "[ttrpc]",
    '  address = ""',
    "[debug]",
    '  address = ""',
    "[metrics]",
    '  address = ""',
    "",
    "[plugins]",
    // The default is /opt/containerd, shared with the machine's own containerd.
    '  [plugins."io.containerd.internal.v1.opt"]',
    `    path = "${join(p.containerdDir, "opt")}"`,
    "",
  ].join("\n");
}

/** Writes the config files of containerd and dockerd. */
export function writeDockerConfig(p: DockerPaths): void {
  mkdirSync(p.containerdDir, { recursive: true, mode: 0o700 });
  mkdirSync(p.cliConfigDir, { recursive: true, mode: 0o700 });
  writeFileSync(p.containerdConfig, containerdToml(p), { mode: 0o600 });
  // Our own daemon.json so that /etc/docker/daemon.json of this machine cannot change the test bed,
  // and the legacy trust key goes to our dir instead of /etc/docker/key.json.
  writeFileSync(p.dockerConfigFile, JSON.stringify({ "deprecated-key-path": join(p.dir, "key.json") }) + "\n", { mode: 0o600 });
}

/** Starts containerd in the namespace and waits for its socket. */
export async function startContainerd(netns: string, p: DockerPaths): Promise<number> {
  const pid = spawnInNetns(netns, ["containerd", "--config", p.containerdConfig, "--log-level", "warn"], p.containerdLog);
  await waitFor("containerd", pid, p.containerdLog, () => exists(p.containerdSocket), 20_000);
  return pid;
}

/**
 * Whether iptables works inside the namespace. Debian 12's docker.io needs it
 * for `-p`; when the kernel lacks it we fall back to `--iptables=false`, where
 * the userland proxy still publishes ports on every address of the namespace.
 */
export async function iptablesUsable(netns: string): Promise<boolean> {
  const r = await run(["nsenter", `--net=${netnsPath(netns)}`, "--", "iptables", "-t", "nat", "-S"], { timeoutMs: 10_000 });
  if (r.code !== 0) log.warn("iptables unusable in the test bed namespace, starting dockerd with --iptables=false", { stderr: r.stderr.trim() });
  return r.code === 0;
}

/** Options of a test bed's dockerd: how it publishes ports, and on which bridge. */
export interface DockerdFlags {
  iptables: boolean;
  /**
   * false: iptables DNAT alone, no docker-proxy process per published port
   * (`--userland-proxy=false`), for tests that publish thousands of ports.
   * Ignored without iptables: then the proxy is the only way to publish.
   */
  userlandProxy?: boolean;
  /**
   * An existing bridge for the default network instead of docker0: a second
   * dockerd in the same namespace must not share the first one's bridge.
   */
  bridge?: string;
}

/** dockerd argv for this test bed. */
export function dockerdArgv(p: DockerPaths, opts: DockerdFlags): string[] {
  return [
    "dockerd",
    "--config-file", p.dockerConfigFile,
    "--data-root", p.dataRoot,
    "--exec-root", p.execRoot,
    "--pidfile", p.dockerPidFile,
    "-H", `unix://${p.dockerSocket}`,
    "--containerd", p.containerdSocket,
    // tini as PID 1 forwards SIGTERM, so `docker stop` and daemon restarts take
    // milliseconds instead of the 10 s kill timeout (busybox httpd ignores SIGTERM as PID 1).
    "--init",
    "--iptables=" + String(opts.iptables),
    ...(opts.userlandProxy === false && opts.iptables ? ["--userland-proxy=false"] : []),
    ...(opts.bridge ? ["--bridge", opts.bridge] : []),
    "--log-level", "warn",
  ];
}

/** Starts dockerd in the namespace and waits until /_ping answers. */
export async function startDockerd(netns: string, p: DockerPaths, opts: DockerdFlags): Promise<number> {
  const pid = spawnInNetns(netns, dockerdArgv(p, opts), p.dockerLog);
  await waitFor("dockerd", pid, p.dockerLog, () => pingDocker(p.dockerSocket), 60_000);
  return pid;
}

/** SIGTERM dockerd and wait for it (it stops its containers first); SIGKILL after timeoutMs. */
export async function stopDockerdProcess(pid: number | undefined, p: DockerPaths, timeoutMs = 30_000): Promise<void> {
  if (!isOurs(pid, p.dir)) return;
  const left = await terminate([pid], timeoutMs);
  if (left.length > 0) throw new Error(`dockerd (pid ${pid}) survived SIGKILL`);
}

/** Bridge (inside the namespace) and subnet of the second dockerd's default network; docker0 belongs to the first. */
export const SECOND_BRIDGE = { name: "rdhpf-br2", cidr: "172.30.99.1/24" } as const;

/** Creates the second dockerd's bridge in the namespace (it goes away with the namespace). */
export async function createSecondBridge(netns: string): Promise<void> {
  for (const argv of [
    ["ip", "-n", netns, "link", "add", SECOND_BRIDGE.name, "type", "bridge"],
    ["ip", "-n", netns, "addr", "add", SECOND_BRIDGE.cidr, "dev", SECOND_BRIDGE.name],
    ["ip", "-n", netns, "link", "set", SECOND_BRIDGE.name, "up"],
  ]) {
    const r = await run(argv);
    if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
}
