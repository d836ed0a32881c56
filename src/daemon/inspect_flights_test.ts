import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ObservedContainer } from "../docker/types.ts";
import { type ContainerInspector, InspectFlights } from "./inspect_flights.ts";

/** An inspector whose answers the test gives, one per request, and that counts the requests. */
function inspector(): ContainerInspector & { sent: string[]; answerAll: (c: ObservedContainer | null) => void } {
  const pending: Array<(c: ObservedContainer | null) => void> = [];
  return {
    sent: [],
    inspectContainer(ref: string) {
      this.sent.push(ref);
      return new Promise((resolve) => pending.push(resolve));
    },
    answerAll(c) {
      for (const resolve of pending.splice(0)) resolve(c);
    },
  };
}

const running = (id: string): ObservedContainer => ({ id, name: id, labels: {}, createdS: 1, ports: [] });

describe("InspectFlights", () => {
  it("joins an inspect in flight that was sent after what the asker must see", async () => {
    const client = inspector();
    const flights = new InspectFlights();
    const hold = flights.inspect(client, "abc", 1_000, 1_001);
    const event = flights.inspect(client, "abc", 1_000, 1_003);
    assert.equal(event, hold);
    assert.deepEqual(client.sent, ["abc"]);
    client.answerAll(running("abc"));
    assert.deepEqual(await event.answer, running("abc"));
    assert.equal(event.sentMs, 1_001);
  });

  it("sends its own when the one in flight was sent before the event arrived", () => {
    const client = inspector();
    const flights = new InspectFlights();
    const hold = flights.inspect(client, "abc", 1_000, 1_001);
    const event = flights.inspect(client, "abc", 1_005, 1_006);
    assert.notEqual(event, hold);
    assert.equal(event.sentMs, 1_006);
    assert.deepEqual(client.sent, ["abc", "abc"]);
  });

  it("does not count an inspect sent in the same millisecond as later", () => {
    const client = inspector();
    const flights = new InspectFlights();
    flights.inspect(client, "abc", 999, 1_000);
    flights.inspect(client, "abc", 1_000, 1_000);
    assert.equal(client.sent.length, 2);
  });

  it("never joins across links, nor another container", () => {
    const [a, b] = [inspector(), inspector()];
    const flights = new InspectFlights();
    flights.inspect(a, "abc", 0, 10);
    flights.inspect(b, "abc", 0, 11);
    flights.inspect(b, "other", 0, 12);
    assert.deepEqual([a.sent, b.sent], [["abc"], ["abc", "other"]]);
  });

  it("forgets an inspect once answered: the next asker sends a new one", async () => {
    const client = inspector();
    const flights = new InspectFlights();
    const first = flights.inspect(client, "abc", 0, 10);
    client.answerAll(null);
    await first.answer;
    assert.equal(flights.size, 0);
    flights.inspect(client, "abc", 0, 20);
    assert.equal(client.sent.length, 2);
  });
});
