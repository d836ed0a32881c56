import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LocalForward } from "./argv.ts";
import { classifySshStderr } from "./errors.ts";
import { chunksOf, failedForwardsInMasterLog, failureReason, masterLinesFor, SPECS_PER_CALL } from "./forward_outcome.ts";
import { Mux } from "./mux.ts";
import { parseTarget } from "./target.ts";

const f = (bindAddress: string, localPort: number, remoteHost = "127.0.0.1", remotePort = localPort): LocalForward => ({ bindAddress, localPort, remoteHost, remotePort });

// What an OpenSSH 9.2 master at LogLevel INFO printed for one -O forward with
// 127.0.0.1:40002 busy (a real capture) and ::1:40005 busy.
const MASTER_TEXT = [
  "bind [127.0.0.1]:40002: Address already in use",
  "channel_setup_fwd_listener_tcpip: cannot listen to port: 40002",
  "mux_master_process_open_fwd: requested local forward 127.0.0.1:40002 -> 127.0.0.1:22 failed",
  "bind [::1]:40005: Address already in use",
  "channel_setup_fwd_listener_tcpip: cannot listen to port: 40005",
  "mux_master_process_open_fwd: requested local forward ::1:40005 -> 127.0.0.1:40005 failed",
  "channel 3: open failed: connect failed: Connection refused",
].join("\r\n");

describe("failedForwardsInMasterLog", () => {
  it("finds the failed specs by their exact local and remote ends", () => {
    const batch = [f("127.0.0.1", 40001, "127.0.0.1", 22), f("127.0.0.1", 40002, "127.0.0.1", 22), f("::1", 40005), f("127.0.0.1", 40005)];
    assert.deepEqual([...failedForwardsInMasterLog(MASTER_TEXT, batch)], [1, 2]);
  });

  it("does not count a spec with the same local port but another remote end", () => {
    assert.deepEqual([...failedForwardsInMasterLog(MASTER_TEXT, [f("127.0.0.1", 40002, "127.0.0.1", 23)])], []);
  });

  it("finds nothing in an empty log", () => {
    assert.equal(failedForwardsInMasterLog("", [f("127.0.0.1", 1)]).size, 0);
  });
});

describe("masterLinesFor", () => {
  it("picks the lines about one forward's local address and port", () => {
    assert.deepEqual(masterLinesFor(MASTER_TEXT, f("::1", 40005)).split("\n"), [
      "bind [::1]:40005: Address already in use",
      "channel_setup_fwd_listener_tcpip: cannot listen to port: 40005",
      "mux_master_process_open_fwd: requested local forward ::1:40005 -> 127.0.0.1:40005 failed",
    ]);
  });

  it("returns nothing for a forward the master did not mention", () => {
    assert.equal(masterLinesFor(MASTER_TEXT, f("127.0.0.1", 40001)), "");
  });
});

describe("failureReason", () => {
  const cases: Array<[string, string]> = [
    ["bind [127.0.0.1]:5432: Address already in use", "local port 5432 is in use; find the owner with: lsof -nP -i :5432 (or ss -ltnp 'sport = :5432')"],
    ["Control socket connect(/r/k.ssh.sock): No such file or directory", "Control socket connect(/r/k.ssh.sock): No such file or directory (the SSH ControlMaster is not running; rdhpf reconnects by itself)"],
    ["mux_client_forward: forwarding request failed: Port forwarding failed", "mux_client_forward: forwarding request failed: Port forwarding failed"],
    ["", "unknown"],
  ];
  for (const [stderr, reason] of cases) it(`explains ${JSON.stringify(stderr)} in one line`, () => assert.equal(failureReason(classifySshStderr(stderr)), reason));
});

describe("chunksOf", () => {
  const cases: Array<[number, number, number[]]> = [[0, 200, []], [1, 200, [1]], [200, 200, [200]], [201, 200, [200, 1]], [2000, 200, Array(10).fill(200)]];
  for (const [n, size, lengths] of cases) {
    it(`cuts ${n} items into slices of at most ${size}`, () => {
      const items = Array.from({ length: n }, (_, i) => i);
      const chunks = chunksOf(items, size);
      assert.deepEqual(chunks.map((c) => c.length), lengths);
      assert.deepEqual(chunks.flat(), items);
    });
  }
});

/**
 * A stand-in ssh client: appends "<operation> <number of -L>" per run to a
 * log, then runs `script` (which sees $n, the number of -L).
 */
function fakeMux(script: string): { mux: (opts?: ConstructorParameters<typeof Mux>[1]) => Mux; runs: () => string[]; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-fakemux-"));
  const binary = join(dir, "ssh");
  const log = join(dir, "runs.log");
  writeFileSync(log, "");
  writeFileSync(binary, `#!/bin/sh
n=0; op=""; prev=""
for a in "$@"; do
  [ "$a" = "-L" ] && n=$((n+1))
  [ "$prev" = "-O" ] && op="$a"
  prev="$a"
done
echo "$op $n" >> ${JSON.stringify(log)}
${script}
`);
  chmodSync(binary, 0o755);
  const ctx = { sshBinary: binary, configFile: null, options: [], target: parseTarget("ssh://root@127.0.0.1:1"), controlPath: join(dir, "m.sock") };
  return {
    mux: (opts) => new Mux(ctx, opts),
    runs: () => readFileSync(log, "utf8").split("\n").filter((l) => l !== ""),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const specs = (n: number): LocalForward[] => Array.from({ length: n }, (_, i) => f(i % 2 === 0 ? "127.0.0.1" : "::1", 20000 + Math.floor(i / 2)));

describe("Mux with many forwards", () => {
  it(`sends at most ${SPECS_PER_CALL} -L per ssh call when adding and cancelling`, async () => {
    const fake = fakeMux("exit 0");
    try {
      const mux = fake.mux();
      const added = await mux.forward(specs(2000));
      assert.equal(added.ok.length, 2000);
      assert.equal(added.sshRuns, 10);
      const cancelled = await mux.cancel(specs(450));
      assert.equal(cancelled.ok.length, 450);
      assert.deepEqual(fake.runs(), [...Array(10).fill("forward 200"), "cancel 200", "cancel 200", "cancel 50"]);
    } finally {
      fake.cleanup();
    }
  });

  it("stops after the first call when the master is gone, failing every spec with that cause", async () => {
    const fake = fakeMux('echo "Control socket connect(/r/m.sock): No such file or directory" >&2; exit 255');
    try {
      const r = await fake.mux().forward(specs(1000));
      assert.equal(r.sshRuns, 1);
      assert.equal(r.failed.length, 1000);
      assert.ok(r.failed.every((x) => x.failure.kind === "master-gone"));
      assert.deepEqual(fake.runs(), ["forward 200"]);
    } finally {
      fake.cleanup();
    }
  });

  it("retries only a bounded number of specs alone when ssh does not say which failed", async () => {
    // Every call with more than one -L fails without naming the spec; alone, each succeeds.
    const fake = fakeMux('if [ "$op" = forward ] && [ "$n" -gt 1 ]; then echo "mux_client_forward: forwarding request failed: Port forwarding failed" >&2; exit 255; fi; exit 0');
    try {
      const r = await fake.mux({ specsPerCall: 10, soloRetriesPerCall: 4 }).forward(specs(30));
      assert.equal(r.ok.length, 4);
      assert.equal(r.failed.length, 26);
      assert.match(r.failed[0]!.reason, /retries at most 4 alone per reconcile; the next resync tries again/);
      // 3 batches, 4 solo retries, and one cancel per batch whose rest stayed unknown.
      assert.deepEqual(fake.runs(), ["forward 10", "forward 1", "forward 1", "forward 1", "forward 1", "cancel 6", "forward 10", "cancel 10", "forward 10", "cancel 10"]);
      assert.equal(r.sshRuns, 10);
    } finally {
      fake.cleanup();
    }
  });
});
