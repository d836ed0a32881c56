import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RdhpfError } from "../errors.ts";
import { connectsDirectly, instanceIdentity, parseSshG, sshGValues } from "./resolve.ts";

// The head of real `ssh -G` output (OpenSSH 9.2p1) for an alias.
const REAL_G = `host tb
user root
hostname 127.0.0.1
port 33561
addressfamily any
batchmode yes
canonicalizefallbacklocal yes
canonicalizehostname false
checkhostip no
compression no
controlmaster false
identityfile /tmp/t/userkey
identityfile ~/.ssh/id_ed25519
userknownhostsfile /tmp/t/known_hosts
`;

describe("parseSshG", () => {
  it("reads user, hostname and port of an alias", () => {
    assert.deepEqual(parseSshG(REAL_G), { user: "root", hostname: "127.0.0.1", port: 33561 });
  });

  it("reads what a Match block decided (Match user bob → Port 2200)", () => {
    assert.deepEqual(parseSshG("host inc\nuser bob\nhostname 10.9.9.9\nport 2200\n"), { user: "bob", hostname: "10.9.9.9", port: 2200 });
  });

  it("keeps an IPv6 host name as ssh prints it", () => {
    assert.deepEqual(parseSshG("user root\r\nhostname fd00::1\r\nport 2222\r\n"), { user: "root", hostname: "fd00::1", port: 2222 });
  });

  const broken: Array<[string, string]> = [
    ["empty output", ""],
    ["no port", "user root\nhostname h\n"],
    ["no user", "hostname h\nport 22\n"],
    ["port not a number", "user root\nhostname h\nport twenty\n"],
    ["port out of range", "user root\nhostname h\nport 70000\n"],
  ];
  for (const [name, text] of broken) {
    it(`refuses ${name} with exit code 2`, () => {
      assert.throws(() => parseSshG(text), (err) => err instanceof RdhpfError && err.exitCode === 2);
    });
  }
});

describe("sshGValues", () => {
  it("keeps every value of a repeatable key in ssh's order", () => {
    const v = sshGValues(REAL_G);
    assert.deepEqual(v.get("identityfile"), ["/tmp/t/userkey", "~/.ssh/id_ed25519"]);
    assert.deepEqual(v.get("batchmode"), ["yes"]);
    assert.equal(v.get("identityagent"), undefined);
  });
});

describe("instanceIdentity", () => {
  it("is user@hostname:port", () => {
    assert.equal(instanceIdentity({ user: "root", hostname: "10.200.0.2", port: 22 }), "root@10.200.0.2:22");
  });
});

describe("connectsDirectly", () => {
  // Lines as OpenSSH 9.2p1 prints them with -G.
  const cases: Array<[string, string, boolean]> = [
    ["no proxy at all", REAL_G, true],
    ["ProxyJump", `${REAL_G}proxyjump bastion\n`, false],
    ["ProxyCommand", `${REAL_G}proxycommand nc %h %p\n`, false],
    ["ProxyCommand none", `${REAL_G}proxycommand none\n`, true],
    ["ProxyJump none", `${REAL_G}proxyjump none\n`, true],
  ];
  for (const [name, text, direct] of cases) {
    it(`${name}: ${direct ? "direct" : "not direct"}`, () => {
      assert.equal(connectsDirectly(sshGValues(text)), direct);
    });
  }
});
