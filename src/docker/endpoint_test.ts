import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ENDPOINT, type DockerEndpoint, ENDPOINT_DISCOVERY_COMMAND, parseEndpoint } from "./endpoint.ts";

describe("parseEndpoint", () => {
  const cases: Array<[string, DockerEndpoint]> = [
    ["unix:///var/run/docker.sock\n", { kind: "unix", path: "/var/run/docker.sock" }],
    ["  unix:///run/user/1000/docker.sock  ", { kind: "unix", path: "/run/user/1000/docker.sock" }],
    ["unix://relative.sock", { kind: "other", raw: "unix://relative.sock" }],
    ["unix://", { kind: "other", raw: "unix://" }],
    ["tcp://10.0.0.5:2375", { kind: "tcp", host: "10.0.0.5", port: 2375, tls: false }],
    ["tcp://docker.internal:2376", { kind: "tcp", host: "docker.internal", port: 2376, tls: true }],
    ["tcp://docker.internal", { kind: "tcp", host: "docker.internal", port: 2375, tls: false }],
    ["tcp://[::1]:2375", { kind: "tcp", host: "::1", port: 2375, tls: false }],
    ["https://docker.internal", { kind: "tcp", host: "docker.internal", port: 2376, tls: true }],
    ["tcp://host:99999", { kind: "other", raw: "tcp://host:99999" }],
    ["tcp://", { kind: "other", raw: "tcp://" }],
    ["npipe:////./pipe/docker_engine", { kind: "npipe", raw: "npipe:////./pipe/docker_engine" }],
    ["ssh://user@other-host", { kind: "ssh", raw: "ssh://user@other-host" }],
    ["fd://", { kind: "other", raw: "fd://" }],
    ["", { kind: "other", raw: "" }],
    ["unix:///var/run/docker.sock\nunix:///evil", { kind: "other", raw: "unix:///var/run/docker.sock\nunix:///evil" }],
    ["/var/run/docker.sock", { kind: "other", raw: "/var/run/docker.sock" }],
  ];
  for (const [input, expected] of cases) {
    it(`reads ${JSON.stringify(input)} as ${expected.kind}`, () => assert.deepEqual(parseEndpoint(input), expected));
  }

  it("reads the default endpoint as the standard unix socket", () => {
    assert.deepEqual(parseEndpoint(DEFAULT_ENDPOINT), { kind: "unix", path: "/var/run/docker.sock" });
  });

  it("discovers the endpoint with the docker CLI's own context resolution", () => {
    assert.deepEqual([...ENDPOINT_DISCOVERY_COMMAND], ["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"]);
  });
});
