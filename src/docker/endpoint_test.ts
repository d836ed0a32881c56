import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ENDPOINT, type DiscoveryOutcome, type DiscoveryRun, type DockerEndpoint, ENDPOINT_DISCOVERY_COMMAND, parseEndpoint, readDiscovery } from "./endpoint.ts";

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

describe("readDiscovery", () => {
  const ok = { code: 0, signal: null, timedOut: false, stderr: "" };
  const cases: Array<[string, DiscoveryRun, DiscoveryOutcome]> = [
    ["reads the endpoint the CLI printed", { ...ok, stdout: "unix:///run/user/1000/docker.sock\n" }, { kind: "reported", endpoint: "unix:///run/user/1000/docker.sock" }],
    ["reads only the last line (a login shell may print a banner first)", { ...ok, stdout: "Welcome!\ntcp://10.0.0.5:2376\n" }, { kind: "reported", endpoint: "tcp://10.0.0.5:2376" }],
    ["reads an empty answer of a successful CLI as nothing configured", { ...ok, stdout: "\n" }, { kind: "nothing" }],
    ["reads a timeout as a failure, not as nothing", { ...ok, code: null, signal: "SIGKILL", timedOut: true, stdout: "" }, { kind: "failed", reason: "timed out" }],
    ["reads a killed command as a failure", { ...ok, code: null, signal: "SIGTERM", stdout: "" }, { kind: "failed", reason: "killed by SIGTERM" }],
    ["reads a non-zero exit as a failure, with the last stderr line", { ...ok, code: 255, stdout: "", stderr: "warning\nmux_client_request_session: read from master failed\n" }, { kind: "failed", reason: "exit status 255: mux_client_request_session: read from master failed" }],
    ["reads a missing docker CLI as a failure", { ...ok, code: 127, stdout: "", stderr: "sh: docker: not found" }, { kind: "failed", reason: "exit status 127: sh: docker: not found" }],
    ["does not take a last line that is no endpoint", { ...ok, stdout: "some banner\n" }, { kind: "failed", reason: 'not an endpoint: "some banner"' }],
  ];
  for (const [name, run, expected] of cases) {
    it(name, () => assert.deepEqual(readDiscovery(run), expected));
  }
});
