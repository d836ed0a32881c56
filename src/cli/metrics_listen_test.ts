import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RdhpfError } from "../errors.ts";
import { parseMetricsListen } from "./metrics_listen.ts";

describe("parseMetricsListen", () => {
  const good: [string, string, number][] = [
    ["9469", "127.0.0.1", 9469],
    ["127.0.0.1:9469", "127.0.0.1", 9469],
    ["0.0.0.0:80", "0.0.0.0", 80],
    ["[::1]:9469", "::1", 9469],
    ["[fd00::10]:1", "fd00::10", 1],
  ];
  for (const [input, host, port] of good) {
    it(`reads ${input} as ${host} port ${port}`, () => assert.deepEqual(parseMetricsListen(input), { host, port }));
  }

  const bad = ["", "0", "65536", "localhost:9469", "::1:9469", "[127.0.0.1]:9469", "127.0.0.1:", "127.0.0.1:http", "1.2.3:80"];
  for (const input of bad) {
    it(`rejects ${JSON.stringify(input)} with a usage error naming the option`, () => {
      assert.throws(() => parseMetricsListen(input), (err: unknown) => err instanceof RdhpfError && err.exitCode === 2 && err.message.includes("--metrics-listen"));
    });
  }
});
