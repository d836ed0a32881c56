/**
 * Fault tests 7 and 8 on the real test bed, driving the compiled binary:
 * container churn with random timing must end with the forwards equal to the
 * truth and without growth of rdhpf's descriptors or memory; a local port
 * that is busy and frees later must be forwarded within one resync.
 *
 * Knobs for chasing a failure: RDHPF_CHURN_SEED repeats a run's random
 * timing; RDHPF_CHURN_DEBUG=1 runs rdhpf at debug level (=/some/file also
 * saves its whole log there when the truth check fails); RDHPF_CHURN_CYCLES
 * changes the number of cycles (200 or more).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { childrenOf, Daemon, httpGet, isRefused, requireBinary, waitFor } from "./_harness.ts";
import { assertStatusIsTruth } from "./_truth.ts";

const skip = testbedSkipReason("churn and busy-port tests");

const POOL = 10;
const FIRST_PORT = 26001;
const CYCLES = Number(process.env.RDHPF_CHURN_CYCLES ?? 300);
/** Until the heap has grown to its steady band: about 120 cycles in a 900-cycle run. */
const WARMUP_CYCLES = 100;
const WORKERS = 5;
const BUSY_PORT = 26020;
/** The daemon's periodic resync (engine default). */
const RESYNC_MS = 30_000;

/** mulberry32: a small seeded PRNG, so that a failing run can be repeated with RDHPF_CHURN_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : Number.NaN;
}

interface Settled {
  median: number;
  min: number;
  max: number;
  samples: number;
}

/**
 * RSS once rdhpf has been idle for a while. During churn RSS is a saw of
 * garbage collection: in a 1500-cycle run the medians of 100-cycle windows
 * moved between 66 and 86 MB without a trend, so two windows can differ by
 * 17% with no leak. Idle, the collector returns memory within about 30 s
 * and RSS sits still (64.5, 65.7 and 67.1 MB after 100, 300 and 500 cycles,
 * same machine): retained memory, a leak, shows there and the saw does not.
 * Idles 25 s, then samples every 250 ms for 15 s.
 */
async function settledRssKiB(pid: number): Promise<Settled> {
  await sleep(25_000);
  const xs: number[] = [];
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    xs.push(rssKiB(pid));
    await sleep(250);
  }
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs.length };
}

function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let k = "?";
    try {
      k = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/:\[\d+\]$/, "").replace(/^\/.*/, "file");
    } catch {
      // closed meanwhile
    }
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  return kinds;
}

describe("rdhpf under container churn and a busy local port (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  /** Status equals ss and docker ps (test/e2e/_truth.ts), on this file's ports. */
  const truth = (timeoutMs: number) => assertStatusIsTruth(daemon, tb, { timeoutMs, ports: [26000, 26999] });
  const names = Array.from({ length: POOL }, (_, i) => `churn${i}`);
  const portOf = (i: number) => FIRST_PORT + i;

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    for (let i = 0; i < POOL; i++) {
      const r = await tb.docker(["create", "--name", names[i]!, "-p", `${portOf(i)}:80`, tb.image]);
      assert.equal(r.code, 0, r.stderr);
    }
    daemon = new Daemon(tb, process.env.RDHPF_CHURN_DEBUG ? ["--log-level", "debug"] : []);
    await waitFor("daemon connected", async () => (await daemon.status()).state === "connected", 20_000, 200);
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
  });

  /** Which pool containers run, as the remote dockerd says. */
  async function runningNow(): Promise<Set<number>> {
    const r = await tb.docker(["ps", "--format", "{{.Names}}"]);
    assert.equal(r.code, 0, r.stderr);
    const up = new Set(r.stdout.split("\n").filter(Boolean));
    return new Set(names.flatMap((n, i) => (up.has(n) ? [i] : [])));
  }

  /** Null when the local forwards equal the truth, else what differs. */
  async function differenceFromTruth(running: Set<number>): Promise<string | null> {
    const diffs: string[] = [];
    for (let i = 0; i < POOL; i++) {
      for (const host of ["127.0.0.1", "::1"]) {
        if (running.has(i) && !(await httpGet(portOf(i), host))) diffs.push(`${host}:${portOf(i)} does not answer`);
        if (!running.has(i) && !(await isRefused(portOf(i), host))) diffs.push(`${host}:${portOf(i)} not refused`);
      }
    }
    const st = await daemon.status();
    const active = st.forwards.filter((f) => f.state === "active").map((f) => f.local_port).sort();
    const want = [...running].map(portOf).sort();
    if (JSON.stringify(active) !== JSON.stringify(want)) diffs.push(`status forwards ${active} != ${want}`);
    return diffs.length === 0 ? null : diffs.join("; ");
  }

  async function waitForTruth(timeoutMs: number): Promise<number> {
    const running = await runningNow();
    let last: string | null = "not checked";
    const t0 = Date.now();
    try {
      await waitFor("forwards equal the truth", async () => (last = await differenceFromTruth(running)) === null, timeoutMs, 200);
    } catch (err) {
      process.stderr.write(`rdhpf log (last 8 KB):\n${daemon.logs().slice(-8192)}\n`);
      if (process.env.RDHPF_CHURN_DEBUG?.startsWith("/")) writeFileSync(process.env.RDHPF_CHURN_DEBUG, daemon.logs());
      assert.fail(`forwards differ from the truth after ${timeoutMs} ms: ${last} (${(err as Error).message})`);
    }
    return Date.now() - t0;
  }

  /** Runs `cycles` start/kill cycles; worker w owns the containers i with i % WORKERS === w, so no two race on one. */
  async function churn(cycles: number, rnd: () => number): Promise<void> {
    let left = cycles;
    const failedStarts: string[] = [];
    const worker = async (w: number) => {
      const mine = names.filter((_, i) => i % WORKERS === w);
      while (left > 0) {
        left--;
        const name = mine[Math.floor(rnd() * mine.length)]!;
        const s = await tb.docker(["start", name]);
        // Under load runc now and then fails a start ("writing syncT ... broken pipe"); the container then stays
        // stopped, which is as good a truth as any. Only a run of failures means the test bed broke.
        if (s.code !== 0) {
          failedStarts.push(s.stderr.trim().split("\n")[0]!);
          assert.ok(failedStarts.length <= cycles / 10, `docker start failed ${failedStarts.length} times: ${failedStarts.join("; ")}`);
        }
        await sleep(rnd() * 300);
        const k = await tb.docker(["kill", name]);
        // A container whose process already exited cannot be killed; it is stopped either way.
        assert.ok(k.code === 0 || /is not running/.test(k.stderr), k.stderr);
        await sleep(rnd() * 300);
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    if (failedStarts.length > 0) process.stderr.write(`churn: ${failedStarts.length} of ${cycles} starts failed in dockerd (tolerated): ${failedStarts[0]}\n`);
  }

  it(`equals the truth after ${CYCLES} start/stop cycles of ${POOL} containers, without fd or memory growth`, async () => {
    const seed = Number(process.env.RDHPF_CHURN_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stderr.write(`churn seed: ${seed} (repeat with RDHPF_CHURN_SEED=${seed})\n`);
    const rnd = prng(seed);
    const t0 = Date.now();

    await churn(WARMUP_CYCLES, rnd);
    await waitForTruth(15_000);
    const warm = { fds: openFds(daemon.pid), kinds: fdKinds(daemon.pid), rss: await settledRssKiB(daemon.pid) };

    await churn(CYCLES - WARMUP_CYCLES, rnd);
    // End in a mixed state: a seeded half of the pool running.
    for (let i = 0; i < POOL; i++) if (rnd() < 0.5) await tb.docker(["start", names[i]!]);
    const settleMs = await waitForTruth(15_000);
    await truth(5_000);
    const churnS = Math.round((Date.now() - t0) / 1000);
    const end = { fds: openFds(daemon.pid), kinds: fdKinds(daemon.pid), rss: await settledRssKiB(daemon.pid) };
    const band = (r: Settled) => `${r.median} KiB (${r.samples} samples, ${r.min}-${r.max})`;
    process.stderr.write(
      `churn: ${CYCLES} cycles in ${churnS} s; truth ${settleMs} ms after the last change; ` +
        `fds ${warm.fds} -> ${end.fds} ${JSON.stringify(warm.kinds)} -> ${JSON.stringify(end.kinds)}; ` +
        `settled RSS ${band(warm.rss)} after warm-up -> ${band(end.rss)} at the end\n`,
    );

    assert.ok(Math.abs(end.fds - warm.fds) <= 0.2 * warm.fds, `open fds ${warm.fds} after warm-up, ${end.fds} at the end`);
    assert.ok(Math.abs(end.rss.median - warm.rss.median) <= 0.2 * warm.rss.median, `settled RSS ${band(warm.rss)} after warm-up, ${band(end.rss)} at the end`);
    const ssh = childrenOf(daemon.pid).filter(([, comm]) => comm === "ssh");
    const st = await daemon.status();
    assert.deepEqual(ssh.map(([pid]) => pid), [st.ssh.master_pid], `ssh children of rdhpf: ${JSON.stringify(ssh)}`);
    assert.equal(tb.acceptedConnections(), 1);
    assert.equal(st.ssh.reconnects, 0);
  });

  it("forwards a local port that was busy within one resync after it frees, naming the owner meanwhile", async () => {
    const blockers: Server[] = [];
    for (const host of ["127.0.0.1", "::1"]) {
      const s = createServer();
      await new Promise<void>((resolve, reject) => s.once("error", reject).listen(BUSY_PORT, host, () => resolve()));
      blockers.push(s);
    }
    const r = await tb.docker(["run", "-d", "--name", "wants-busy-port", "-p", `${BUSY_PORT}:80`, tb.image]);
    assert.equal(r.code, 0, r.stderr);
    const conflict = await waitFor("conflict reported", async () => {
      const st = await daemon.status();
      return st.forwards.find((f) => f.local_port === BUSY_PORT && f.state === "conflict");
    }, 15_000, 200);
    assert.match(conflict.reason ?? "", new RegExp(`in use by pid ${process.pid}\\b`));
    assert.equal((await daemon.status()).state, "degraded");
    await truth(5_000); // the conflict row, and the test's own listener, are the truth meanwhile

    for (const s of blockers) await new Promise((r) => s.close(r));
    const freedAt = Date.now();
    await waitFor("busy port forwarded after it freed", async () => (await httpGet(BUSY_PORT)) && (await httpGet(BUSY_PORT, "::1")), RESYNC_MS + 5_000, 200);
    const st = await daemon.status();
    assert.equal(st.forwards.find((f) => f.local_port === BUSY_PORT)?.state, "active");
    process.stderr.write(`busy port forwarded ${Date.now() - freedAt} ms after it freed\n`);
    await truth(5_000);
  });
});
