/**
 * Hostile Docker metadata end to end, driving the compiled binary: labels
 * (real dockerd accepts any) and container names and event lines (only a
 * compromised remote engine sends those) with newlines, ANSI escapes, shell
 * metacharacters and megabytes of text. Logs and `rdhpf status` show them
 * escaped and cut, nothing reaches a shell, and bad event lines are skipped
 * with one log line each. Two hostile containers contesting one local port
 * put each other's names into conflict and removal reasons: those reach logs
 * and status escaped too.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, httpGet, rdhpf, requireBinary, waitFor } from "./_harness.ts";
import { type HostileEngine, startHostileEngine } from "./_hostile_engine.ts";

const skip = testbedSkipReason("hostile metadata tests");

const LABELLED_PORT = 26110;
const EVIL_PORT = 26111;
const HUGE_PORT = 26112;
const BIDI_PORT = 26113;
/** The local port two hostile containers contest; the claimer publishes CLAIMER_REMOTE_PORT and maps it here by label. */
const CONTESTED_PORT = 26114;
const CLAIMER_REMOTE_PORT = 26115;
/** Raw characters that must never reach a log, status or terminal: ESC, BEL, CSI, bidi embeddings, overrides and isolates. */
const RAW_UNSAFE = /[\u001b\u0007\u009b\u202a-\u202e\u2066-\u2069]/;
const MIB = 1 << 20;
/** Port-less containers with long names: a status JSON of over 1 MB, which `rdhpf status` once cut at 128 KiB on a pipe. */
const FILLERS = 4000;
/** No log line or status row may come near the megabytes the remote sent. */
const MAX_LINE_BYTES = 16 * 1024;

const LOG_CONFIGS: Array<{ level: string; format: "text" | "json" }> = [
  { level: "info", format: "text" },
  { level: "debug", format: "text" },
  { level: "info", format: "json" },
  { level: "debug", format: "json" },
];

/** Creates a container through the Engine API itself: a 1 MiB label does not fit in one argv string (MAX_ARG_STRLEN). */
function createContainer(socketPath: string, name: string, body: unknown): Promise<void> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: "POST", path: `/v1.41/containers/create?name=${name}`, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } }, (res) => {
      let out = "";
      res.on("data", (d) => (out += d));
      res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`create ${name}: HTTP ${res.statusCode} ${out.slice(0, 300)}`))));
    });
    req.on("error", reject);
    req.end(text);
  });
}

/** Every line is one well-formed record of the format: nothing forged a line, moved the cursor or flooded it. */
function assertSafeLog(log: string, format: "text" | "json", what: string): void {
  assert.ok(!RAW_UNSAFE.test(log), `${what}: raw escape or bidi character in the log`);
  for (const line of log.split("\n").filter(Boolean)) {
    assert.ok(Buffer.byteLength(line) <= MAX_LINE_BYTES, `${what}: log line of ${Buffer.byteLength(line)} bytes: ${line.slice(0, 200)}`);
    if (format === "text") assert.match(line, /^time=\S+ level=[A-Z]+ logger=\S+ msg=/, `${what}: not a logfmt record: ${line.slice(0, 200)}`);
    else assert.doesNotThrow(() => JSON.parse(line), `${what}: not a JSON record: ${line.slice(0, 200)}`);
  }
}

interface StatusJson {
  live: boolean;
  forwards: Array<{ local_port: number; container_name: string; state: string; reason: string | null }>;
  containers: Array<{ name: string }>;
}

/** `rdhpf status` in table and JSON form: bounded, no raw escapes; returns the JSON document and its size. */
async function assertSafeStatus(d: Daemon, what: string): Promise<{ doc: StatusJson; jsonBytes: number }> {
  const base = ["status", "--host", d.tb.alias, "-F", d.tb.sshConfigFile];
  const env = { RDHPF_STATE_DIR: d.stateDir, COLUMNS: "120" };
  const table = await rdhpf([...base, "--format", "table"], env);
  assert.ok(table.stdout.length > 0, `${what}: empty status table: ${table.stderr}`);
  assert.ok(!RAW_UNSAFE.test(table.stdout + table.stderr), `${what}: raw escape or bidi character in the status table`);
  for (const line of table.stdout.split("\n")) assert.ok(line.length <= 400, `${what}: status table line of ${line.length} chars`);
  const json = await rdhpf([...base, "--format", "json"], env);
  assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(json.stdout) && !RAW_UNSAFE.test(json.stdout), `${what}: raw control or bidi character in the status JSON`);
  const doc = JSON.parse(json.stdout) as StatusJson;
  assert.ok(doc.live, `${what}: status did not answer live`);
  return { doc, jsonBytes: Buffer.byteLength(json.stdout) };
}

describe("hostile Docker metadata (compiled binary, real sshd + dockerd, hostile engine)", { skip }, () => {
  let tb: Testbed;
  let markers: string;
  const daemons: Daemon[] = [];
  let engine: HostileEngine | null = null;
  /** Shell snippets that would create a marker file if any of them ever reached a shell. */
  const shellBait = (tag: string) =>
    `$(touch ${markers}/${tag}-dollar) \`touch ${markers}/${tag}-backtick\`; touch ${markers}/${tag}-semicolon | touch ${markers}/${tag}-pipe && touch ${markers}/${tag}-and`;
  const noMarkers = () => assert.deepEqual(readdirSync(markers), [], "a shell ran a command from Docker metadata");

  before(async () => {
    requireBinary();
    markers = mkdtempSync(join(tmpdir(), "rdhpf-markers-"));
    tb = await startTestbed();
  });

  after(async () => {
    for (const d of daemons) {
      await d.stop();
      d.cleanup();
    }
    await engine?.close();
    await tb?.stop();
    rmSync(markers, { recursive: true, force: true });
  });

  async function runDaemon(cfg: { level: string; format: string }, ready: (d: Daemon) => Promise<unknown>): Promise<Daemon> {
    const d = new Daemon(tb, ["--log-level", cfg.level, "--log-format", cfg.format]);
    daemons.push(d);
    try {
      await waitFor("forwards ready", () => ready(d), 20_000, 100);
    } catch (err) {
      process.stderr.write(`rdhpf log (last 8 KB):\n${d.logs().slice(-8192)}\n`);
      throw err;
    }
    return d;
  }

  async function stopDaemon(d: Daemon): Promise<void> {
    assert.equal(await d.stop(), 0);
    d.cleanup();
    daemons.splice(daemons.indexOf(d), 1);
  }

  it("keeps labels with newlines, ANSI escapes, shell metacharacters and 1 MiB of text out of logs, status and shells", async () => {
    await createContainer(tb.dockerSocket, "labelled", {
      Image: tb.image,
      Labels: {
        "evil.newline": "line one\ntime=2026-01-01T00:00:00Z level=ERROR msg=forged",
        "evil.ansi": "\u001b[2J\u001b[31mred\u001b]0;title\u0007\u009b1m",
        "evil.shell": shellBait("label"),
        "evil.huge": "H".repeat(MIB),
        [`evil.key.${shellBait("labelkey")}`]: "x",
      },
      ExposedPorts: { "80/tcp": {} },
      HostConfig: { PortBindings: { "80/tcp": [{ HostPort: String(LABELLED_PORT) }] } },
    });
    const started = await tb.docker(["start", "labelled"]);
    assert.equal(started.code, 0, started.stderr);

    for (const cfg of LOG_CONFIGS) {
      const what = `${cfg.level}/${cfg.format}`;
      const d = await runDaemon(cfg, () => httpGet(LABELLED_PORT));
      const { doc } = await assertSafeStatus(d, what);
      assert.equal(doc.forwards.find((f) => f.local_port === LABELLED_PORT)?.container_name, "labelled");
      await stopDaemon(d);
      assertSafeLog(d.logs(), cfg.format, what);
      assert.ok(!d.logs().includes("HHHHHHHHHHHHHHHH"), `${what}: label text in the log`);
      assert.ok(!d.logs().includes("forged"), `${what}: label text in the log`);
    }
    noMarkers();
    assert.equal((await tb.docker(["rm", "-f", "labelled"])).code, 0);
  });

  it("shows hostile container names escaped and cut, and skips malformed, truncated and huge event lines with one log line each", async () => {
    const evilName = `evil\n\u001b[31mRED\u001b[0m\u0007${shellBait("name")}`;
    engine = await startHostileEngine({
      containers: [
        { id: "a".repeat(64), name: evilName, labels: { "evil.shell": shellBait("hlabel"), "evil.ansi": "\u001b[2J" }, port: EVIL_PORT },
        { id: "b".repeat(64), name: "N".repeat(MIB), labels: {}, port: HUGE_PORT },
        { id: "c".repeat(64), name: "\u202eevil\u200b\u0301\u0301\u0301\u0301", labels: {}, port: BIDI_PORT },
        // Without ports; listed in the status all the same: their names make its JSON larger than a pipe buffer.
        // Ids unique, as Docker's are (padding with "f" made some equal, e.g. 0xf and 0xff).
        ...Array.from({ length: FILLERS }, (_, i) => ({ id: `f${i.toString(16).padStart(63, "0")}`, name: `filler-${i}-${"x".repeat(400)}`, labels: {} })),
      ],
      eventLines: [
        `this is not json at all ${shellBait("event")} \u001b[2J`,
        `{"Type":"container","Action":"start","Actor":{"ID":"trunc`,
        `{"Type":"container","Action":"start","Actor":{"ID":"huge","Attributes":{"name":"${"Z".repeat(2 * MIB)}"}}}`,
        `{"Type":"container","Actor":{"ID":"no-action"}}`,
        JSON.stringify({ Type: "container", Action: "start", Actor: { ID: "a".repeat(64), Attributes: { name: `\u001b[2J${shellBait("attr")}` } }, time: 1 }),
      ],
    });
    // The remote user's DOCKER_HOST now names the hostile engine: endpoint discovery finds it like any engine.
    await tb.restartSshd({ extraConfig: [`SetEnv DOCKER_HOST=${engine.endpoint}`] });

    for (const cfg of LOG_CONFIGS) {
      const what = `${cfg.level}/${cfg.format}`;
      const d = await runDaemon(cfg, async (d) => {
        const active = (await forwardsOf(d)).filter((f) => f.state === "active");
        return active.length === 3 && /Skipping invalid Docker event/.test(d.logs());
      });
      const { doc, jsonBytes } = await assertSafeStatus(d, what);
      const forwards = doc.forwards;
      // Arrived whole through the pipe (parsed above) although far larger than the 64-128 KiB a pipe holds.
      assert.equal(doc.containers.length, 3 + FILLERS);
      assert.ok(jsonBytes > 1024 * 1024, `${what}: status JSON of ${jsonBytes} bytes`);
      assert.ok(doc.containers.every((c) => c.name.length <= 256), `${what}: a 400-character name kept whole`);
      const evil = forwards.find((f) => f.local_port === EVIL_PORT)!;
      assert.equal(evil.container_name.length <= 300, true, `${what}: name of ${evil.container_name.length} chars in status JSON`);
      const huge = forwards.find((f) => f.local_port === HUGE_PORT)!;
      assert.ok(huge.container_name.length <= 300, `${what}: 1 MiB name kept whole in status JSON (${huge.container_name.length} chars)`);
      const table = (await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: d.stateDir, COLUMNS: "120" })).stdout;
      assert.ok(table.includes("evil\\n\\x1b[31m"), `${what}: evil name not shown escaped in the table:\n${table}`);
      assert.ok(table.includes("\\u{202e}evil"), `${what}: bidi override not shown escaped in the table`);
      assert.match(table, /NNNN…/, `${what}: huge name not cut in the table`);

      await stopDaemon(d);
      const log = d.logs();
      assertSafeLog(log, cfg.format, what);
      const count = (re: RegExp) => log.split("\n").filter((l) => re.test(l)).length;
      const streams = engine.eventStreams();
      assert.equal(count(/Skipping malformed Docker event line/), 2, `${what}: malformed and truncated lines`);
      assert.equal(count(/Skipping oversized Docker event line/), 1, `${what}: the 2 MiB line`);
      assert.equal(count(/Skipping invalid Docker event/), 1, `${what}: the event without an action`);
      assert.ok(!log.includes("ZZZZZZZZZZZZZZZZ"), `${what}: the huge event line reached the log`);
      assert.ok(!log.includes("NNNNNNNNNNNNNNNN".repeat(200)), `${what}: the 1 MiB name reached the log uncut`);
      assert.equal(engine.eventStreams(), streams);
    }
    // One event stream per daemon: a bad line never ends the stream.
    assert.equal(engine.eventStreams(), LOG_CONFIGS.length);
    noMarkers();
  });

  it("escapes hostile names inside the reasons of a contested local port, in logs and status", async () => {
    const victim = `victim\u202e\n\u001b[31mlevel=ERROR`;
    const claimer = `claimer\u2066\u009b2J\u001b]0;title\u0007${shellBait("claimer")}`;
    const victimContainer = { id: "d".repeat(64), name: victim, labels: {}, port: CONTESTED_PORT };
    // Same creation time; the larger id wins the port (desiredForwards), so the claimer takes it.
    const claimerContainer = { id: "e".repeat(64), name: claimer, labels: { [`rdhpf.port.${CLAIMER_REMOTE_PORT}`]: String(CONTESTED_PORT) }, port: CLAIMER_REMOTE_PORT };
    await engine?.close();
    engine = await startHostileEngine({ containers: [victimContainer], eventLines: [] });
    const contested = engine;
    await tb.restartSshd({ extraConfig: [`SetEnv DOCKER_HOST=${contested.endpoint}`] });

    for (const cfg of LOG_CONFIGS) {
      const what = `${cfg.level}/${cfg.format}`;
      contested.setContainers([victimContainer]);
      const d = await runDaemon(cfg, async (d) => (await forwardsOf(d)).some((f) => f.local_port === CONTESTED_PORT && f.state === "active"));
      contested.setContainers([victimContainer, claimerContainer]);
      contested.sendEvent(JSON.stringify({ Type: "container", Action: "start", Actor: { ID: claimerContainer.id, Attributes: { name: claimer } }, time: 2 }));
      await waitFor("the claimer takes the port", async () => {
        const rows = await forwardsOf(d);
        const mine = rows.filter((f) => f.local_port === CONTESTED_PORT);
        return mine.some((f) => f.state === "active" && f.remote_port === CLAIMER_REMOTE_PORT) && mine.some((f) => f.state === "conflict");
      }, 15_000, 100);

      const { doc } = await assertSafeStatus(d, what);
      const conflict = doc.forwards.find((f) => f.local_port === CONTESTED_PORT && f.state === "conflict");
      assert.match(conflict?.reason ?? "", /^local port 26114 claimed by claimer/, `${what}: conflict reason in status JSON`);
      const table = (await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: d.stateDir, COLUMNS: "200" })).stdout;
      assert.ok(table.includes("claimed by claimer\\u{2066}\\x9b2J\\x1b]0;title\\x07"), `${what}: conflict reason not shown escaped in the table:\n${table}`);
      assert.ok(table.includes("end reason: port claimed by claimer\\u{2066}\\x9b2J"), `${what}: end reason not shown escaped in the table:\n${table}`);
      assert.ok(table.includes("victim\\u{202e}"), `${what}: victim name not shown escaped in the table:\n${table}`);

      await stopDaemon(d);
      const log = d.logs();
      assertSafeLog(log, cfg.format, what);
      const removed = log.split("\n").find((l) => l.includes("Forward removed") && l.includes("port claimed by claimer"));
      assert.ok(removed, `${what}: no "Forward removed" line with the claimer's name as reason:\n${log.slice(-4000)}`);
      // Escaped once by the daemon (\u{2066}), then its backslash once more by the log format.
      assert.ok(removed.includes("claimer\\\\u{2066}\\\\x9b2J"), `${what}: reason not escaped: ${removed}`);
    }
    noMarkers();
  });
});

/** The daemon's forwards from `rdhpf status --format json`. */
async function forwardsOf(d: Daemon): Promise<Array<{ local_port: number; remote_port: number; state: string }>> {
  const r = await rdhpf(["status", "--host", d.tb.alias, "-F", d.tb.sshConfigFile, "--format", "json"], { RDHPF_STATE_DIR: d.stateDir });
  return (JSON.parse(r.stdout) as { forwards: Array<{ local_port: number; remote_port: number; state: string }> }).forwards;
}
