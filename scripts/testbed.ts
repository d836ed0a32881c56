/**
 * A throwaway remote Docker host on this machine, for humans and scripts.
 *
 *   bun scripts/testbed.ts up [--sshd-config "LINE"]...   start one, print its facts as JSON,
 *                                                         keep it until SIGINT/SIGTERM, then remove it
 *   bun scripts/testbed.ts cleanup                        remove leftovers of crashed runs
 *
 * Needs root (network namespace, dockerd, sshd); see scripts/bootstrap.sh.
 *
 * @module
 */
import { cleanupStaleTestbeds, startTestbed, testbedAvailability } from "../test/testbed/mod.ts";

const USAGE = 'usage: bun scripts/testbed.ts up [--sshd-config "LINE"]... | cleanup';

async function up(args: string[]): Promise<void> {
  // Our reader may be gone (a test that gave up, a closed terminal); teardown must still run.
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});
  const sshdExtraConfig: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--sshd-config" && args[i + 1] !== undefined) sshdExtraConfig.push(args[++i]!);
    else throw new Error(`unknown argument ${JSON.stringify(args[i])}\n${USAGE}`);
  }
  const availability = testbedAvailability();
  if (!availability.available) throw new Error(`test bed unavailable: ${availability.reason}`);
  const tb = await startTestbed({ sshdExtraConfig });
  const facts = {
    name: tb.name,
    netns: tb.netns,
    remoteAddress: tb.remoteAddress,
    localAddress: tb.localAddress,
    sshPort: tb.sshPort,
    sshConfigFile: tb.sshConfigFile,
    alias: tb.alias,
    target: tb.target,
    identityFile: tb.identityFile,
    knownHostsFile: tb.knownHostsFile,
    dockerSocket: tb.dockerSocket,
    image: tb.image,
    dir: tb.dir,
    pids: tb.pids(),
    timings: Object.fromEntries(Object.entries(tb.timings).map(([k, v]) => [k, Math.round(v)])),
    try: {
      ssh: `ssh -F ${tb.sshConfigFile} ${tb.alias} docker ps`,
      docker: `DOCKER_HOST=unix://${tb.dockerSocket} docker run -d -p 8080:80 ${tb.image}`,
      curlInside: `nsenter --net=/var/run/netns/${tb.netns} curl -s http://127.0.0.1:8080/`,
    },
  };
  process.stdout.write(JSON.stringify(facts, null, 2) + "\n");
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${sig}: removing test bed ${tb.name}\n`);
    try {
      await tb.stop();
      process.stderr.write(`test bed ${tb.name} removed\n`);
      process.exit(0);
    } catch (e) {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGHUP", () => void stop("SIGHUP"));
  setInterval(() => {}, 1 << 30);
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === "up") return up(rest);
  if (cmd === "cleanup") return cleanupStaleTestbeds();
  throw new Error(USAGE);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
