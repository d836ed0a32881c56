import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ObservedContainer } from "../docker/types.ts";
import { DEFAULT_MAX_FORWARDS, desiredForwards, overCapReason, remoteHostFor } from "./desired.ts";
import { NO_RULES, parsePortRanges, type PortRules } from "./rules.ts";

function container(over: Partial<ObservedContainer> & Pick<ObservedContainer, "ports">): ObservedContainer {
  return { id: "c1", name: "web", labels: {}, createdS: 100, ...over };
}
const tcp = (publicPort: number, hostIp = "0.0.0.0", privatePort = 80) => ({ publicPort, privatePort, hostIp, protocol: "tcp" as const });

describe("remoteHostFor", () => {
  const cases: Array<[string, string]> = [
    ["0.0.0.0", "127.0.0.1"],
    ["::", "127.0.0.1"],
    ["", "127.0.0.1"],
    ["127.0.0.1", "127.0.0.1"],
    ["10.0.0.5", "10.0.0.5"],
    ["::1", "::1"],
    ["[fd00::5]", "fd00::5"],
  ];
  for (const [hostIp, expected] of cases) {
    it(`connects to ${expected} on the remote for a binding on ${JSON.stringify(hostIp)}`, () => {
      assert.equal(remoteHostFor(hostIp), expected);
    });
  }
});

describe("desiredForwards", () => {
  it("forwards a published TCP port to the same local port", () => {
    const [f] = desiredForwards([container({ ports: [tcp(5432, "0.0.0.0", 5432)] })], NO_RULES);
    assert.deepEqual(
      { local: f?.localPort, host: f?.remoteHost, port: f?.remotePort, d: f?.disposition },
      { local: 5432, host: "127.0.0.1", port: 5432, d: "wanted" },
    );
  });

  it("makes one forward of a port bound on both 0.0.0.0 and ::", () => {
    const out = desiredForwards([container({ ports: [tcp(8080, "0.0.0.0"), tcp(8080, "::")] })], NO_RULES);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.remoteHost, "127.0.0.1");
  });

  it("forwards the port Docker assigned to -P", () => {
    const out = desiredForwards([container({ ports: [tcp(49153, "0.0.0.0", 80), tcp(49153, "::", 80)] })], NO_RULES);
    assert.deepEqual(out.map((f) => [f.localPort, f.remotePort]), [[49153, 49153]]);
  });

  it("keeps a specific HostIp as the remote end", () => {
    const out = desiredForwards([container({ ports: [tcp(8081, "10.0.0.5")] })], NO_RULES);
    assert.equal(out[0]?.remoteHost, "10.0.0.5");
  });

  it("prefers the wildcard binding when a port is also bound on a specific address", () => {
    const out = desiredForwards([container({ ports: [tcp(9000, "10.0.0.5"), tcp(9000, "0.0.0.0")] })], NO_RULES);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.remoteHost, "127.0.0.1");
  });

  it("reports UDP as unsupported with a reason instead of dropping it", () => {
    const out = desiredForwards([container({ ports: [{ publicPort: 53, privatePort: 53, hostIp: "0.0.0.0", protocol: "udp" }] })], NO_RULES);
    assert.equal(out[0]?.disposition, "unsupported");
    assert.match(out[0]?.reason ?? "", /UDP/);
  });

  it("ignores every port of a container labelled rdhpf.ignore=true", () => {
    const out = desiredForwards([container({ labels: { "rdhpf.ignore": "true" }, ports: [tcp(80), tcp(443)] })], NO_RULES);
    assert.deepEqual(out.map((f) => f.disposition), ["ignored", "ignored"]);
  });

  it("maps a remote port to another local port by label and by --map", () => {
    const rules: PortRules = { ...NO_RULES, map: { "6379": 16379 } };
    const out = desiredForwards([
      container({ id: "a", name: "db", labels: { "rdhpf.port.5432": "15432" }, ports: [tcp(5432)] }),
      container({ id: "b", name: "cache", ports: [tcp(6379)] }),
    ], rules);
    assert.deepEqual(out.map((f) => [f.containerName, f.remotePort, f.localPort]), [["db", 5432, 15432], ["cache", 6379, 16379]]);
  });

  it("applies include and exclude ranges, exclusion winning", () => {
    const rules: PortRules = { include: parsePortRanges("3000-9999"), exclude: parsePortRanges("8080"), map: {} };
    const out = desiredForwards([container({ ports: [tcp(22), tcp(3000), tcp(8080)] })], rules);
    assert.deepEqual(out.map((f) => [f.remotePort, f.disposition]), [[22, "ignored"], [3000, "wanted"], [8080, "ignored"]]);
    assert.equal(out[2]?.reason, "excluded by --exclude-ports");
  });

  it("gives a contested local port to the most recently created container", () => {
    const out = desiredForwards([
      container({ id: "old", name: "old", createdS: 100, labels: { "rdhpf.port.5000": "7000" }, ports: [tcp(5000)] }),
      container({ id: "new", name: "new", createdS: 200, ports: [tcp(7000)] }),
    ], NO_RULES);
    const byName = Object.fromEntries(out.map((f) => [f.containerName, f]));
    assert.equal(byName.new?.disposition, "wanted");
    assert.equal(byName.old?.disposition, "claimed");
    assert.equal(byName.old?.reason, "local port 7000 claimed by new");
  });

  it("returns nothing for containers without published ports", () => {
    assert.deepEqual(desiredForwards([container({ ports: [] })], NO_RULES), []);
  });
});

describe("desiredForwards with --max-forwards", () => {
  const ports = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => tcp(from + i));
  const wantedOf = (out: ReturnType<typeof desiredForwards>) => out.filter((f) => f.disposition === "wanted").map((f) => `${f.containerName}:${f.localPort}`);

  const cases: Array<{ name: string; containers: ObservedContainer[]; max: number; wanted: string[] }> = [
    {
      name: "keeps every forward when they fit",
      containers: [container({ ports: ports(8000, 8002) })],
      max: 3,
      wanted: ["web:8000", "web:8001", "web:8002"],
    },
    {
      name: "keeps the lowest ports of one container",
      containers: [container({ ports: [tcp(9000), tcp(8000), tcp(8500)] })],
      max: 2,
      wanted: ["web:8000", "web:8500"],
    },
    {
      name: "keeps the older container's forwards before a newer one's, even when its ports are higher",
      containers: [
        container({ id: "n", name: "new", createdS: 200, ports: ports(1000, 1002) }),
        container({ id: "o", name: "old", createdS: 100, ports: ports(5000, 5002) }),
      ],
      max: 4,
      wanted: ["new:1000", "old:5000", "old:5001", "old:5002"],
    },
    {
      name: "breaks a tie in age by container id",
      containers: [
        container({ id: "b", name: "second", createdS: 100, ports: [tcp(1000)] }),
        container({ id: "a", name: "first", createdS: 100, ports: [tcp(2000)] }),
      ],
      max: 1,
      wanted: ["first:2000"],
    },
    {
      name: "does not count ignored, claimed or UDP ports against the cap",
      containers: [
        container({ id: "i", name: "skipped", createdS: 1, labels: { "rdhpf.ignore": "true" }, ports: ports(100, 110) }),
        container({ id: "w", name: "web", createdS: 2, ports: [tcp(3000), { ...tcp(3001), protocol: "udp" as const }, tcp(3002)] }),
      ],
      max: 2,
      wanted: ["web:3000", "web:3002"],
    },
    {
      name: "keeps nothing with a cap of 0",
      containers: [container({ ports: [tcp(80)] })],
      max: 0,
      wanted: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(wantedOf(desiredForwards(c.containers, NO_RULES, c.max)), c.wanted);
    });
  }

  it("lists the excess as ignored, with the cap in the reason", () => {
    const out = desiredForwards([container({ ports: ports(20000, 20014) })], NO_RULES, 10);
    const ignored = out.filter((f) => f.disposition === "ignored");
    assert.deepEqual(ignored.map((f) => f.localPort), [20010, 20011, 20012, 20013, 20014]);
    assert.ok(ignored.every((f) => f.reason === overCapReason(10)));
    assert.match(overCapReason(10), /limit of 10 forwards .*--max-forwards/);
  });

  it("applies a default cap of 4096 forwards", () => {
    const out = desiredForwards([container({ ports: ports(10000, 10000 + DEFAULT_MAX_FORWARDS) })], NO_RULES);
    assert.equal(DEFAULT_MAX_FORWARDS, 4096);
    assert.equal(out.filter((f) => f.disposition === "wanted").length, 4096);
    assert.deepEqual(out.filter((f) => f.disposition === "ignored").map((f) => f.localPort), [10000 + DEFAULT_MAX_FORWARDS]);
  });
});

describe("desiredForwards: rules that could not apply as written", () => {
  it("forwards a port whose rdhpf.port label is not a port on its own number, with the reason in status", () => {
    const c = { id: "c1", name: "db", createdS: 1, labels: { "rdhpf.port.5432": "postgres" }, ports: [{ hostIp: "0.0.0.0", publicPort: 5432, privatePort: 5432, protocol: "tcp" as const }] };
    const [f] = desiredForwards([c], NO_RULES);
    assert.equal(f?.disposition, "wanted");
    assert.equal(f?.localPort, 5432);
    assert.match(f?.reason ?? "", /^label rdhpf\.port\.5432="postgres" is not a port/);
  });
});
