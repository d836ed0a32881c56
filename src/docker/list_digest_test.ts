import { describe, it } from "bun:test";
import assert from "node:assert/strict";
import { containerListDigest } from "./list_digest.ts";

const list = (status: string, port: number, name = "/web") =>
  `[{"Id":"abc","Names":["${name}"],"Created":1700000000,"State":"running","Status":${JSON.stringify(status)},"Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":${port},"Type":"tcp"}],"Labels":{}}]`;

describe("containerListDigest", () => {
  it("is the same when only the containers' age in Status moved on", () => {
    assert.equal(containerListDigest(list("Up 2 minutes", 8080)), containerListDigest(list("Up About an hour (Paused)", 8080)));
  });

  it("ignores a Status with escaped quotes as a whole", () => {
    assert.equal(containerListDigest(list('Up "odd" 1', 8080)), containerListDigest(list("Up 3 seconds", 8080)));
  });

  it("differs when a published port changes", () => {
    assert.notEqual(containerListDigest(list("Up 2 minutes", 8080)), containerListDigest(list("Up 2 minutes", 8081)));
  });

  it("differs when a container is renamed", () => {
    assert.notEqual(containerListDigest(list("Up 2 minutes", 8080)), containerListDigest(list("Up 2 minutes", 8080, "/api")));
  });

  it("differs when the list gains a container", () => {
    const one = list("Up 2 minutes", 8080);
    assert.notEqual(containerListDigest(one), containerListDigest(`${one.slice(0, -1)},${one.slice(1)}`));
  });
});
