import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseIpAddrOutput, pickSubnet, subnetAt } from "./_network.ts";

describe("subnetAt", () => {
  const cases: Array<[number, string, string, string]> = [
    [1, "10.200.0.4", "10.200.0.5", "10.200.0.6"],
    [64, "10.200.1.0", "10.200.1.1", "10.200.1.2"],
    [16382, "10.200.255.248", "10.200.255.249", "10.200.255.250"],
  ];
  for (const [i, subnet, local, remote] of cases) {
    it(`maps index ${i} to ${subnet}/30 with host .${local.split(".")[3]} and namespace .${remote.split(".")[3]}`, () => {
      assert.deepEqual(subnetAt(i), { subnet, localAddress: local, remoteAddress: remote });
    });
  }
});

describe("parseIpAddrOutput", () => {
  it("reads every IPv4 network of `ip -o -4 addr show`", () => {
    const text = [
      "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
      "4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever",
      "7: rdhpf-3f9a1c-h    inet 10.200.37.1/30 scope global rdhpf-3f9a1c-h\\       valid_lft forever",
    ].join("\n");
    assert.deepEqual(parseIpAddrOutput(text), [
      { address: "127.0.0.1", prefix: 8 },
      { address: "192.0.2.2", prefix: 24 },
      { address: "10.200.37.1", prefix: 30 },
    ]);
  });
});

describe("pickSubnet", () => {
  const fixed = () => 0.5; // start at index 8192 = 10.200.128.0
  it("starts at the random index and returns candidates in order", () => {
    assert.equal(pickSubnet([], new Set(), fixed)[0]?.subnet, "10.200.128.0");
  });
  it("skips a /30 that an address on this machine already uses", () => {
    const picked = pickSubnet([{ address: "10.200.128.1", prefix: 30 }], new Set(), fixed);
    assert.equal(picked[0]?.subnet, "10.200.128.4");
  });
  it("skips every /30 inside a wider network on this machine", () => {
    const picked = pickSubnet([{ address: "10.200.128.77", prefix: 24 }], new Set(), fixed);
    assert.equal(picked[0]?.subnet, "10.200.129.0");
  });
  it("skips subnets claimed by other test beds", () => {
    const picked = pickSubnet([], new Set(["10.200.128.0", "10.200.128.4"]), fixed);
    assert.equal(picked[0]?.subnet, "10.200.128.8");
  });
  it("finds nothing when a /16 covering the block is in use", () => {
    assert.deepEqual(pickSubnet([{ address: "10.200.0.1", prefix: 16 }], new Set(), fixed), []);
  });
  it("never hands out the first or last /30 of the block", () => {
    const atStart = pickSubnet([], new Set(), () => 0);
    assert.equal(atStart[0]?.subnet, "10.200.0.4");
    const atEnd = pickSubnet([], new Set(), () => 0.99999999);
    assert.equal(atEnd[0]?.subnet, "10.200.0.4");
  });
});
