import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type BoundaryEvent, HttpBoundaries } from "./http_boundaries.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** One direction's bytes, as the relay would see them. */
type Side = "client" | "engine";

/** What the observer reports, with offsets counted from the start of each direction's stream. */
interface Seen { side: Side; kind: BoundaryEvent["kind"]; at: number; start?: number; what?: string }

/** Feeds `steps` in order, each direction's text cut into pieces at `cuts` (offsets within that step). */
function observe(steps: Array<[Side, string]>, cut: (text: Uint8Array) => Uint8Array[] = (t) => [t]): Seen[] {
  const b = new HttpBoundaries();
  const seen: Seen[] = [];
  const base = { client: 0, engine: 0 };
  for (const [side, text] of steps) {
    for (const piece of cut(bytes(text))) {
      const events = side === "client" ? b.fromClient(piece) : b.fromEngine(piece);
      for (const e of events) {
        const s: Seen = { side, kind: e.kind, at: base[side] + e.at };
        if (e.kind === "request") s.what = `${e.head.method} ${e.head.target}`;
        if (e.kind === "response") {
          s.what = `${e.status} for ${e.request.method} ${e.request.target}`;
          if (e.start >= 0) s.start = base[side] + e.start;
        }
        if (e.kind === "passthrough") s.what = e.reason;
        seen.push(s);
      }
      base[side] += piece.length;
    }
  }
  return seen;
}

/** The events without the head-start offsets (which depend on where the chunks were cut). */
const withoutStart = (seen: Seen[]) => seen.map(({ start: _start, ...rest }) => rest);

const START = "POST /v1.47/containers/web/start HTTP/1.1\r\nHost: api.moby.localhost\r\nContent-Length: 0\r\n\r\n";
const NO_CONTENT = "HTTP/1.1 204 No Content\r\nApi-Version: 1.47\r\nDate: Sun, 29 Nov 2026 10:00:00 GMT\r\n\r\n";
const CREATE = 'POST /v1.47/containers/create HTTP/1.1\r\nHost: api.moby.localhost\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"Image":"x"}';
const CREATED = 'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 24\r\n\r\n{"Id":"abc","Warnings":[]}'.replace("24", String('{"Id":"abc","Warnings":[]}'.length));
const LIST = "GET /v1.47/containers/json HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n";
const LIST_CHUNKED = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\n[{}\r\nA\r\n,{},{},{},\r\n3\r\n{}]\r\n0\r\nX-Trailer: yes\r\n\r\n";

describe("HttpBoundaries: where Docker API messages begin and end", () => {
  it("finds a request and response with Content-Length bodies", () => {
    assert.deepEqual(observe([["client", CREATE], ["engine", CREATED]]), [
      { side: "client", kind: "request", at: CREATE.indexOf("{"), what: "POST /v1.47/containers/create" },
      { side: "engine", kind: "response", at: CREATED.indexOf("{"), start: 0, what: "201 for POST /v1.47/containers/create" },
      { side: "engine", kind: "response-end", at: CREATED.length },
    ]);
  });

  it("reads a chunked body with chunk extensions and a trailer to its end", () => {
    assert.deepEqual(observe([["client", LIST], ["engine", LIST_CHUNKED]]), [
      { side: "client", kind: "request", at: LIST.length, what: "GET /v1.47/containers/json" },
      { side: "engine", kind: "response", at: LIST_CHUNKED.indexOf("3;ext"), start: 0, what: "200 for GET /v1.47/containers/json" },
      { side: "engine", kind: "response-end", at: LIST_CHUNKED.length },
    ]);
  });

  it("reads a chunked request body (an upload)", () => {
    const upload = "PUT /v1.47/containers/web/archive?path=/tmp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    const ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert.deepEqual(withoutStart(observe([["client", upload + LIST], ["engine", ok]])).map((s) => `${s.side} ${s.kind} ${s.at}`), [
      `client request ${upload.indexOf("5\r\n")}`, `client request ${upload.length + LIST.length}`, `engine response ${ok.length}`, `engine response-end ${ok.length}`,
    ]);
  });

  it("pairs pipelined responses with their requests, in order, with the offset where each begins", () => {
    const seen = observe([["client", START + LIST + CREATE], ["engine", NO_CONTENT + LIST_CHUNKED + CREATED]]);
    assert.deepEqual(seen.filter((s) => s.kind === "response"), [
      { side: "engine", kind: "response", at: NO_CONTENT.length, start: 0, what: "204 for POST /v1.47/containers/web/start" },
      { side: "engine", kind: "response", at: NO_CONTENT.length + LIST_CHUNKED.indexOf("3;ext"), start: NO_CONTENT.length, what: "200 for GET /v1.47/containers/json" },
      { side: "engine", kind: "response", at: NO_CONTENT.length + LIST_CHUNKED.length + CREATED.indexOf("{"), start: NO_CONTENT.length + LIST_CHUNKED.length, what: "201 for POST /v1.47/containers/create" },
    ]);
    assert.equal(seen.filter((s) => s.kind === "response-end").length, 3);
  });

  it("finds the same boundaries whatever byte the stream is cut at, and one byte at a time", () => {
    const steps: Array<[Side, string]> = [["client", START + LIST + CREATE], ["engine", NO_CONTENT + LIST_CHUNKED + CREATED], ["client", START], ["engine", NO_CONTENT]];
    const whole = observe(steps);
    assert.equal(whole.length, 12, "4 requests, 4 responses, 4 ends");
    const longest = Math.max(...steps.map(([, t]) => t.length));
    for (let cut = 1; cut < longest; cut++) {
      const seen = observe(steps, (t) => [t.subarray(0, cut), t.subarray(cut)].filter((p) => p.length > 0));
      assert.deepEqual(withoutStart(seen), withoutStart(whole), `cut at ${cut}`);
      // Where a head starts is told only when it starts in the chunk that completes it; then it is right.
      for (const s of seen) if (s.start !== undefined) assert.equal(s.start, whole.find((w) => w.at === s.at && w.kind === s.kind)!.start, `cut at ${cut}`);
    }
    const byteWise = observe(steps, (t) => Array.from(t, (b) => Uint8Array.of(b)));
    assert.deepEqual(withoutStart(byteWise), withoutStart(whole));
  });

  it("knows that a HEAD response, a 204 and a 304 have no body, and that 100 Continue is followed by the real response", () => {
    const head = "HEAD /v1.47/containers/web/archive?path=/ HTTP/1.1\r\n\r\n";
    const headOk = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
    const upload = "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi";
    const cont = "HTTP/1.1 100 Continue\r\n\r\n";
    const ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    const seen = observe([["client", head], ["engine", headOk], ["client", upload], ["engine", cont + ok]]);
    assert.deepEqual(seen.filter((s) => s.side === "engine").map((s) => `${s.kind} ${s.at} ${s.what ?? ""}`.trim()), [
      `response ${headOk.length} 200 for HEAD /v1.47/containers/web/archive?path=/`, `response-end ${headOk.length}`,
      `response ${headOk.length + cont.length} 100 for PUT /x`, `response ${headOk.length + cont.length + ok.length} 200 for PUT /x`, `response-end ${headOk.length + cont.length + ok.length}`,
    ]);
  });

  it("stops at a request that asks for an upgrade (attach, exec start, BuildKit session) and reports nothing after", () => {
    const exec = 'POST /v1.47/exec/e1/start HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"Detach":false';
    const seen = observe([["client", exec + "raw stdin bytes\r\n\r\nGET / HTTP/1.1\r\n\r\n"], ["engine", "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n\u0001\u0000\u0000\u0000"], ["client", START], ["engine", NO_CONTENT]]);
    assert.deepEqual(seen, [
      { side: "client", kind: "request", at: exec.indexOf("{"), what: "POST /v1.47/exec/e1/start" },
      { side: "client", kind: "passthrough", at: exec.length, what: "request asked for an upgrade" },
    ]);
  });

  it("stops at a 101 response, and at a hijacked raw stream that has no length", () => {
    const attach = "POST /v1.24/containers/web/attach?stream=1&stdout=1 HTTP/1.1\r\n\r\n";
    const raw = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n";
    assert.deepEqual(observe([["client", attach], ["engine", raw + "output"], ["client", START], ["engine", NO_CONTENT]]).slice(1).map((s) => `${s.kind} ${s.at} ${s.what}`), [
      `response ${raw.length} 200 for POST /v1.24/containers/web/attach?stream=1&stdout=1`, `passthrough ${raw.length} hijacked stream`,
    ]);
    const switched = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n";
    assert.deepEqual(observe([["client", LIST], ["engine", switched + "PRI"]]).slice(1).map((s) => `${s.kind} ${s.what}`), ["response 101 for GET /v1.47/containers/json", "passthrough switched protocols"]);
  });

  for (const [name, steps, reason] of [
    ["bytes that are not HTTP/1.x", [["client", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]], "not an HTTP/1.x request"],
    ["a malformed header line", [["client", "GET / HTTP/1.1\r\nno colon here\r\n\r\n"]], "request: malformed header line"],
    ["two different Content-Lengths", [["client", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"]], "request: bad content-length"],
    ["a transfer coding other than chunked", [["client", LIST], ["engine", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"]], "response: transfer-encoding gzip,chunked"],
    ["a body that runs until the close", [["client", LIST], ["engine", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nlogs..."]], "body until close"],
    ["a bad chunk size", [["client", LIST], ["engine", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]], "bad chunk size line"],
    ["a response nobody asked for", [["engine", NO_CONTENT]], "response without a request"],
    ["a head larger than 64 KiB", [["client", `GET / HTTP/1.1\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`]], "request head too large"],
  ] as Array<[string, Array<[Side, string]>, string]>) {
    it(`gives up, for good, on ${name}`, () => {
      const seen = observe([...steps, ["client", START], ["engine", NO_CONTENT]]);
      assert.deepEqual(seen.filter((s) => s.kind === "passthrough").map((s) => s.what), [reason]);
      assert.equal(seen.at(-1)!.kind, "passthrough", "nothing is reported once given up");
    });
  }
});
