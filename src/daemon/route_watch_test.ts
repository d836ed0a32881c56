import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RouteWatch } from "./route_watch.ts";

/** A probe that answers from a script, one answer per call, and counts calls. */
function scripted(answers: boolean[]) {
  let calls = 0;
  return {
    probe: () => Promise.resolve(answers[Math.min(calls++, answers.length - 1)]!),
    calls: () => calls,
  };
}

describe("RouteWatch", () => {
  it("returns as soon as the path comes back after being down", async () => {
    const s = scripted([false, false, true]);
    const started = Date.now();
    assert.equal(await new RouteWatch(s.probe, 20).wait(5_000, new AbortController().signal), "back");
    assert.equal(s.calls(), 3);
    assert.ok(Date.now() - started < 1_000);
  });

  it("waits the whole time when the path was never down: ssh's failure is elsewhere, the backoff holds", async () => {
    const s = scripted([true]);
    const started = Date.now();
    assert.equal(await new RouteWatch(s.probe, 20).wait(150, new AbortController().signal), "elapsed");
    assert.ok(Date.now() - started >= 140);
    assert.ok(s.calls() > 2, "it kept probing");
  });

  it("waits the whole time while the path stays down", async () => {
    const s = scripted([false]);
    assert.equal(await new RouteWatch(s.probe, 20).wait(100, new AbortController().signal), "elapsed");
  });

  it("counts the path as down across waits: it may come back during an ssh attempt that still fails", async () => {
    let up = false;
    const watch = new RouteWatch(() => Promise.resolve(up), 20);
    const never = new AbortController().signal;
    assert.equal(await watch.wait(30, never), "elapsed");
    up = true; // while ssh tried and failed
    const started = Date.now();
    assert.equal(await watch.wait(5_000, never), "back");
    assert.ok(Date.now() - started < 500);
  });

  it("needs the path to go down again before it cuts another wait short", async () => {
    const s = scripted([false, true]);
    const watch = new RouteWatch(s.probe, 20);
    const never = new AbortController().signal;
    assert.equal(await watch.wait(5_000, never), "back");
    assert.equal(await watch.wait(100, never), "elapsed");
  });

  it("forgets a down path once a connection succeeded", async () => {
    let up = false;
    const watch = new RouteWatch(() => Promise.resolve(up), 20);
    const never = new AbortController().signal;
    assert.equal(await watch.wait(30, never), "elapsed");
    watch.forget();
    up = true;
    assert.equal(await watch.wait(100, never), "elapsed");
  });

  it("watches without a deadline (beside an ssh attempt) until the path is back", async () => {
    const s = scripted([false, false, false, true]);
    assert.equal(await new RouteWatch(s.probe, 10).wait(Number.POSITIVE_INFINITY, new AbortController().signal), "back");
    assert.equal(s.calls(), 4);
  });

  it("beside an ssh attempt, counts only a down it saw itself: an attempt started on a working path is kept", async () => {
    let up = false;
    const watch = new RouteWatch(() => Promise.resolve(up), 20);
    const never = new AbortController().signal;
    assert.equal(await watch.wait(30, never), "elapsed"); // down during the backoff
    up = true; // back before the next attempt started
    assert.equal(await watch.wait(100, never, "in-this-wait"), "elapsed");
  });

  it("beside an ssh attempt, reports the path back once it saw it down", async () => {
    const s = scripted([false, false, true]);
    assert.equal(await new RouteWatch(s.probe, 20).wait(Number.POSITIVE_INFINITY, new AbortController().signal, "in-this-wait"), "back");
    assert.equal(s.calls(), 3);
  });

  it("a down seen beside a failed ssh attempt still cuts the next backoff short", async () => {
    let up = false;
    const watch = new RouteWatch(() => Promise.resolve(up), 20);
    const never = new AbortController().signal;
    assert.equal(await watch.wait(30, never, "in-this-wait"), "elapsed"); // the attempt failed while the path was down
    up = true;
    assert.equal(await watch.wait(5_000, never), "back");
  });

  it("ends at once when aborted", async () => {
    const ac = new AbortController();
    const s = scripted([false]);
    const waiting = new RouteWatch(s.probe, 20).wait(10_000, ac.signal);
    setTimeout(() => ac.abort(), 30);
    const started = Date.now();
    assert.equal(await waiting, "aborted");
    assert.ok(Date.now() - started < 500);
  });
});
