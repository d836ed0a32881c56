import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { canonicalName, containerFromInspect, containerFromSummary, MAX_NAME_CHARS } from "./ports.ts";
import { type ContainerSummary, ContainerInspectSchema, ContainerSummarySchema } from "./schemas.ts";
import type { PublishedPort } from "./types.ts";

// Captured from dockerd 20.10.24 (API 1.41) with curl --unix-socket.
const list = ContainerSummarySchema.array().parse(
  JSON.parse(readFileSync(new URL("./testdata/containers_json_api1.41.json", import.meta.url), "utf8")),
);
const inspected: Record<string, unknown> = JSON.parse(
  readFileSync(new URL("./testdata/container_inspect_api1.41.json", import.meta.url), "utf8"),
);

function summaryNamed(name: string): ContainerSummary {
  const item = list.find((c) => c.Names?.includes(`/${name}`));
  assert.ok(item, `fixture has no container ${name}`);
  return item;
}
function inspectNamed(name: string) {
  return ContainerInspectSchema.parse(inspected[name]);
}
const port = (protocol: PublishedPort["protocol"], hostIp: string, publicPort: number, privatePort = 80): PublishedPort => ({
  protocol,
  hostIp,
  publicPort,
  privatePort,
});

describe("containerFromSummary and containerFromInspect on real dockerd 20.10 payloads", () => {
  const cases: Array<{ name: string; run: string; ports: PublishedPort[] }> = [
    { name: "pg-both", run: "-p 5432:80", ports: [port("tcp", "0.0.0.0", 5432), port("tcp", "::", 5432)] },
    { name: "ephemeral", run: "-P --expose 80", ports: [port("tcp", "0.0.0.0", 32768), port("tcp", "::", 32768)] },
    { name: "loop-ephemeral", run: "-p 127.0.0.1::80", ports: [port("tcp", "127.0.0.1", 32769)] },
    // 20.10 assigns the IPv4 and IPv6 halves of -p 0:80 separately: two different ports.
    { name: "zero-host", run: "-p 0:80", ports: [port("tcp", "::", 32769), port("tcp", "0.0.0.0", 32770)] },
    { name: "specific-addr", run: "-p 10.200.73.2:8080:80", ports: [port("tcp", "10.200.73.2", 8080)] },
    { name: "v6-loop", run: "-p [::1]:8082:80", ports: [port("tcp", "::1", 8082)] },
    { name: "udp-dns", run: "-p 5353:53/udp", ports: [port("udp", "0.0.0.0", 5353, 53), port("udp", "::", 5353, 53)] },
    { name: "exposed-only", run: "--expose 9000", ports: [] },
    { name: "no-ports", run: "(nothing)", ports: [] },
    {
      name: "multi",
      run: "-p 7001:80 -p 7002:81 -p 7003:7003/udp -p 127.0.0.1:7004:82",
      ports: [
        port("tcp", "0.0.0.0", 7001),
        port("tcp", "::", 7001),
        port("tcp", "0.0.0.0", 7002, 81),
        port("tcp", "::", 7002, 81),
        port("udp", "0.0.0.0", 7003, 7003),
        port("udp", "::", 7003, 7003),
        port("tcp", "127.0.0.1", 7004, 82),
      ],
    },
  ];
  for (const c of cases) {
    it(`reads the bindings Docker made for ${c.run} from the list`, () => {
      assert.deepEqual(containerFromSummary(summaryNamed(c.name)).ports, c.ports);
    });
    it(`reads the bindings Docker made for ${c.run} from inspect`, () => {
      assert.deepEqual(containerFromInspect(inspectNamed(c.name)).ports, c.ports);
    });
  }

  it("maps every running container the same from the list and from inspect", () => {
    for (const item of list) {
      const fromList = containerFromSummary(item);
      assert.deepEqual(containerFromInspect(inspectNamed(fromList.name)), fromList, fromList.name);
    }
  });

  it("keeps names and labels verbatim, without the leading slash", () => {
    const c = containerFromSummary(summaryNamed("weird.name_with-dash"));
    assert.equal(c.name, "weird.name_with-dash");
    assert.deepEqual(c.labels, { evil: "$(touch /tmp/x); `id`", multi: "line1\nline2" });
    assert.match(c.id, /^[0-9a-f]{64}$/);
  });

  it("ignores the requested bindings of a container that is not running", () => {
    // created-only was `docker create -p 7100:80`: HostConfig.PortBindings asks, nothing is bound.
    assert.deepEqual(containerFromInspect(inspectNamed("created-only")).ports, []);
  });

  it("takes the creation time in unix seconds from both payloads", () => {
    const item = summaryNamed("pg-both");
    assert.equal(containerFromInspect(inspectNamed("pg-both")).createdS, item.Created);
  });
});

describe("containerFromSummary on lenient payloads", () => {
  const base = { Id: "abc123", Names: ["/web"], Created: 100, Labels: {}, State: "running" };
  const cases: Array<{ title: string; item: ContainerSummary; ports: PublishedPort[] }> = [
    { title: "null Ports", item: { ...base, Ports: null }, ports: [] },
    { title: "missing Ports", item: { ...base }, ports: [] },
    {
      title: "a published port without IP (older engines)",
      item: { ...base, Ports: [{ PrivatePort: 80, PublicPort: 8080, Type: "tcp" }] },
      ports: [port("tcp", "", 8080)],
    },
    {
      title: "sctp",
      item: { ...base, Ports: [{ IP: "0.0.0.0", PrivatePort: 9, PublicPort: 9, Type: "sctp" }] },
      ports: [port("sctp", "0.0.0.0", 9, 9)],
    },
    {
      title: "an unknown protocol or an out-of-range port",
      item: {
        ...base,
        Ports: [
          { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "quic" },
          { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 0, Type: "tcp" },
          { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 70000, Type: "tcp" },
        ],
      },
      ports: [],
    },
    {
      title: "an exact duplicate binding",
      item: {
        ...base,
        Ports: [
          { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
          { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
        ],
      },
      ports: [port("tcp", "0.0.0.0", 8080)],
    },
  ];
  for (const c of cases) {
    it(`handles ${c.title}`, () => {
      assert.deepEqual(containerFromSummary(c.item).ports, c.ports);
    });
  }

  it("treats null Labels as no labels", () => {
    assert.deepEqual(containerFromSummary({ ...base, Labels: null }).labels, {});
  });
});

describe("containerFromInspect on lenient payloads", () => {
  const base = { Id: "abc123", Name: "/web", Created: "2026-11-27T18:51:39.5Z", State: { Running: true } };
  it("skips null bindings, empty host ports and malformed keys", () => {
    const c = containerFromInspect({
      ...base,
      NetworkSettings: {
        Ports: { "80/tcp": null, "81/tcp": [{ HostIp: "", HostPort: "" }], "garbage": [{ HostIp: "0.0.0.0", HostPort: "1" }], "82": [{ HostIp: "0.0.0.0", HostPort: "8082" }] },
      },
    });
    assert.deepEqual(c.ports, [port("tcp", "0.0.0.0", 8082, 82)]);
  });
  it("accepts null NetworkSettings.Ports, null Config and a missing Created", () => {
    const c = containerFromInspect({ Id: "abc123", Name: "/web", State: { Running: true }, Config: null, NetworkSettings: { Ports: null } });
    assert.deepEqual({ ports: c.ports, labels: c.labels, createdS: c.createdS }, { ports: [], labels: {}, createdS: 0 });
  });
});

describe("canonicalName", () => {
  const cases: Array<[string[], string]> = [
    [["/web"], "web"],
    [["/app/db", "/db"], "db"], // legacy --link alias listed first
    [["/a.b_c-d"], "a.b_c-d"],
    [["/x/y"], "x/y"],
    [[], "0123456789ab"],
    [[""], "0123456789ab"],
    [["/" + "n".repeat(MAX_NAME_CHARS)], "n".repeat(MAX_NAME_CHARS)],
    [["/" + "n".repeat(1 << 20)], `${"n".repeat(MAX_NAME_CHARS - 1)}…`], // a compromised engine's megabyte
    [["/" + "😀".repeat(MAX_NAME_CHARS + 1)], `${"😀".repeat(MAX_NAME_CHARS - 1)}…`], // cut between code points
  ];
  for (const [names, expected] of cases) {
    it(`names ${JSON.stringify(names).slice(0, 40)} ${JSON.stringify(expected).slice(0, 40)}`, () => {
      assert.equal(canonicalName(names, "0123456789abcdef"), expected);
    });
  }
});
