import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CommanderError } from "@commander-js/extra-typings";
import { RdhpfError } from "../errors.ts";
import { collectPort, waitCommand } from "./wait.ts";

describe("collectPort", () => {
  const good: [string, number][] = [["1", 1], ["5432", 5432], ["65535", 65535]];
  for (const [text, port] of good) it(`accepts ${text}`, () => assert.deepEqual(collectPort(text, [80]), [80, port]));
  for (const text of ["0", "65536", "-1", "80.5", "http", "", "0x50", "123456"]) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => collectPort(text, []), CommanderError));
  }
});

describe("rdhpf wait usage errors (exit 2)", () => {
  async function parse(args: string[]): Promise<unknown> {
    const cmd = waitCommand().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    try {
      await cmd.parseAsync(args, { from: "user" });
      return null;
    } catch (err) {
      return err;
    }
  }

  it("refuses a call with nothing to wait for", async () => {
    const err = await parse([]);
    assert.ok(err instanceof RdhpfError && err.exitCode === 2);
    assert.match(err.message, /nothing to wait for/);
  });

  it("refuses a malformed --timeout, naming the right form", async () => {
    const err = await parse(["--port", "80", "--timeout", "soon"]);
    assert.ok(err instanceof RdhpfError && err.exitCode === 2);
    assert.match(err.hint ?? "", /500ms, 30s, 2m/);
  });

  it("refuses a port out of range", async () => {
    const err = await parse(["--port", "70000"]);
    assert.ok(err instanceof CommanderError && err.code === "commander.invalidArgument");
  });
});
