import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LocalForward } from "./argv.ts";
import { classifySshStderr } from "./errors.ts";
import { failedForwardsInMasterLog, failureReason, masterLinesFor } from "./mux.ts";

const f = (bindAddress: string, localPort: number, remoteHost = "127.0.0.1", remotePort = localPort): LocalForward => ({ bindAddress, localPort, remoteHost, remotePort });

// What an OpenSSH 9.2 master at LogLevel INFO printed for one -O forward with
// 127.0.0.1:40002 busy (a real capture) and ::1:40005 busy.
const MASTER_TEXT = [
  "bind [127.0.0.1]:40002: Address already in use",
  "channel_setup_fwd_listener_tcpip: cannot listen to port: 40002",
  "mux_master_process_open_fwd: requested local forward 127.0.0.1:40002 -> 127.0.0.1:22 failed",
  "bind [::1]:40005: Address already in use",
  "channel_setup_fwd_listener_tcpip: cannot listen to port: 40005",
  "mux_master_process_open_fwd: requested local forward ::1:40005 -> 127.0.0.1:40005 failed",
  "channel 3: open failed: connect failed: Connection refused",
].join("\r\n");

describe("failedForwardsInMasterLog", () => {
  it("finds the failed specs by their exact local and remote ends", () => {
    const batch = [f("127.0.0.1", 40001, "127.0.0.1", 22), f("127.0.0.1", 40002, "127.0.0.1", 22), f("::1", 40005), f("127.0.0.1", 40005)];
    assert.deepEqual([...failedForwardsInMasterLog(MASTER_TEXT, batch)], [1, 2]);
  });

  it("does not count a spec with the same local port but another remote end", () => {
    assert.deepEqual([...failedForwardsInMasterLog(MASTER_TEXT, [f("127.0.0.1", 40002, "127.0.0.1", 23)])], []);
  });

  it("finds nothing in an empty log", () => {
    assert.equal(failedForwardsInMasterLog("", [f("127.0.0.1", 1)]).size, 0);
  });
});

describe("masterLinesFor", () => {
  it("picks the lines about one forward's local address and port", () => {
    assert.deepEqual(masterLinesFor(MASTER_TEXT, f("::1", 40005)).split("\n"), [
      "bind [::1]:40005: Address already in use",
      "channel_setup_fwd_listener_tcpip: cannot listen to port: 40005",
      "mux_master_process_open_fwd: requested local forward ::1:40005 -> 127.0.0.1:40005 failed",
    ]);
  });

  it("returns nothing for a forward the master did not mention", () => {
    assert.equal(masterLinesFor(MASTER_TEXT, f("127.0.0.1", 40001)), "");
  });
});

describe("failureReason", () => {
  const cases: Array<[string, string]> = [
    ["bind [127.0.0.1]:5432: Address already in use", "local port 5432 is in use; find the owner with: lsof -nP -i :5432 (or ss -ltnp 'sport = :5432')"],
    ["Control socket connect(/r/k.ssh.sock): No such file or directory", "Control socket connect(/r/k.ssh.sock): No such file or directory (the SSH ControlMaster is not running; rdhpf reconnects by itself)"],
    ["mux_client_forward: forwarding request failed: Port forwarding failed", "mux_client_forward: forwarding request failed: Port forwarding failed"],
    ["", "unknown"],
  ];
  for (const [stderr, reason] of cases) it(`explains ${JSON.stringify(stderr)} in one line`, () => assert.equal(failureReason(classifySshStderr(stderr)), reason));
});
