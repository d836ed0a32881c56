import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { DesiredForward } from "./desired.ts";
import type { ActiveForward } from "./diff.ts";
import { forwardKey, NEXT_FREE_SEARCH_SPAN, type PortProbe, type Relocation, resolveConflicts } from "./conflict.ts";

function want(localPort: number, over: Partial<DesiredForward> = {}): DesiredForward {
  return {
    containerId: `c${localPort}`, containerName: `app${localPort}`, containerCreatedS: 100, localPort, remoteHost: "127.0.0.1",
    remotePort: localPort, protocol: "tcp", disposition: "wanted", reason: null, ...over,
  };
}

function active(d: DesiredForward, localPort = d.localPort): ActiveForward {
  return { localPort, remoteHost: d.remoteHost, remotePort: d.remotePort, bindAddresses: ["127.0.0.1", "::1"], containerId: d.containerId, containerName: d.containerName, sinceMs: 1 };
}

/** A machine where `busy` ports are held by other processes; records what was probed. */
function fakeProbe(busy: Record<number, string | null>): PortProbe & { probed: number[] } {
  const probed: number[] = [];
  return {
    probed,
    isFree: async (p) => {
      probed.push(p);
      return !(p in busy);
    },
    owner: async (p) => busy[p] ?? null,
  };
}

const row = (f: DesiredForward) => `${f.containerName}:${f.remotePort}→${f.localPort} ${f.disposition}${f.reason ? ` (${f.reason})` : ""}`;

describe("resolveConflicts", () => {
  const web = want(8080);
  const pg = want(5432, { containerName: "postgres" });
  const older = want(3000, { containerId: "old", containerName: "web-1", disposition: "claimed", reason: "local port 3000 claimed by web-2" });
  const newer = want(3000, { containerId: "new", containerName: "web-2", containerCreatedS: 200 });

  const cases: Array<{
    name: string;
    desired: DesiredForward[];
    busy?: Record<number, string | null>;
    actives?: ActiveForward[];
    relocations?: Array<[DesiredForward, Relocation]>;
    reserved?: number[];
    expect: string[];
  }> = [
    {
      name: "leaves a forward whose port is free alone",
      desired: [web], expect: ["app8080:8080→8080 wanted"],
    },
    {
      name: "moves a forward whose port another process holds to the next free port, naming the holder",
      desired: [pg], busy: { 5432: "pid 812 (postgres)" },
      expect: ["postgres:5432→5433 wanted (wanted 5432 (busy: pid 812 (postgres)); next free)"],
    },
    {
      name: "says only busy when the OS does not name the holder",
      desired: [pg], busy: { 5432: null },
      expect: ["postgres:5432→5433 wanted (wanted 5432 (busy); next free)"],
    },
    {
      name: "skips ports that are busy too",
      desired: [pg], busy: { 5432: null, 5433: null, 5434: null },
      expect: ["postgres:5432→5435 wanted (wanted 5432 (busy); next free)"],
    },
    {
      name: "skips ports that other containers want and --map targets",
      desired: [pg, want(5433)], busy: { 5432: null }, reserved: [5434],
      expect: ["app5433:5433→5433 wanted", "postgres:5432→5435 wanted (wanted 5432 (busy); next free)"],
    },
    {
      name: "moves the container that lost a contested port, and keeps the winner",
      desired: [older, newer],
      expect: ["web-2:3000→3000 wanted", "web-1:3000→3001 wanted (wanted 3000 (claimed by web-2); next free)"],
    },
    {
      name: "treats a port rdhpf already forwards as its own, not busy",
      desired: [web], busy: { 8080: "pid 1 (ssh)" }, actives: [active(web)],
      expect: ["app8080:8080→8080 wanted"],
    },
    {
      name: "keeps an earlier choice although the wanted port is free again",
      desired: [pg], relocations: [[pg, { wantedPort: 5432, localPort: 5440, reason: "wanted 5432 (busy); next free" }]], actives: [active(pg, 5440)],
      expect: ["postgres:5432→5440 wanted (wanted 5432 (busy); next free)"],
    },
    {
      name: "keeps an earlier choice after a reconnect when that port is still free",
      desired: [pg], busy: { 5432: null }, relocations: [[pg, { wantedPort: 5432, localPort: 5440, reason: "wanted 5432 (busy); next free" }]],
      expect: ["postgres:5432→5440 wanted (wanted 5432 (busy); next free)"],
    },
    {
      name: "chooses again when the earlier choice was taken meanwhile",
      desired: [pg], busy: { 5432: null, 5440: "pid 9 (nc)" }, relocations: [[pg, { wantedPort: 5432, localPort: 5440, reason: "old" }]],
      expect: ["postgres:5432→5433 wanted (wanted 5432 (busy); next free)"],
    },
    {
      name: "makes a newcomer that wants a port a moved forward holds move on",
      desired: [pg, want(5433)], busy: { 5432: null },
      relocations: [[pg, { wantedPort: 5432, localPort: 5433, reason: "wanted 5432 (busy); next free" }]], actives: [active(pg, 5433)],
      expect: ["postgres:5432→5433 wanted (wanted 5432 (busy); next free)", "app5433:5433→5434 wanted (wanted 5433 (taken by a forward moved there earlier); next free)"],
    },
    {
      name: "falls back to waiting when nothing is free nearby",
      desired: [pg], busy: Object.fromEntries(Array.from({ length: NEXT_FREE_SEARCH_SPAN + 1 }, (_, i) => [5432 + i, null])),
      expect: ["postgres:5432→5432 wanted (local port 5432 busy; no free local port in 5433-5532)"],
    },
    {
      name: "never looks past port 65535",
      desired: [want(65535)], busy: { 65535: null },
      expect: ["app65535:65535→65535 wanted (local port 65535 busy; no free local port above 65535)"],
    },
    {
      name: "leaves ignored and unsupported ports alone",
      desired: [want(53, { protocol: "udp", disposition: "unsupported", reason: "UDP" }), want(22, { disposition: "ignored", reason: "excluded" })],
      busy: { 53: null, 22: null },
      expect: ["app22:22→22 ignored (excluded)", "app53:53→53 unsupported (UDP)"],
    },
  ];
  for (const c of cases) {
    it(`next-free ${c.name}`, async () => {
      const r = await resolveConflicts(c.desired, {
        policy: "next-free",
        relocations: new Map((c.relocations ?? []).map(([d, r]) => [forwardKey(d), r])),
        active: new Map((c.actives ?? []).map((a) => [a.localPort, a])),
        reservedPorts: new Set(c.reserved ?? []),
      }, fakeProbe(c.busy ?? {}));
      assert.deepEqual(r.forwards.map(row), c.expect);
    });
  }

  it("wait changes nothing and probes nothing", async () => {
    const probe = fakeProbe({ 5432: null });
    const r = await resolveConflicts([pg, older, newer], { policy: "wait", relocations: new Map(), active: new Map() }, probe);
    assert.deepEqual(r.forwards, [pg, older, newer]);
    assert.deepEqual(probe.probed, []);
  });

  it("remembers a choice for the next reconcile and reports it once", async () => {
    const probe = fakeProbe({ 5432: null });
    const first = await resolveConflicts([pg], { policy: "next-free", relocations: new Map(), active: new Map() }, probe);
    assert.deepEqual(first.decided.map((d) => [d.containerName, d.wantedPort, d.localPort]), [["postgres", 5432, 5433]]);
    const second = await resolveConflicts([pg], { policy: "next-free", relocations: first.relocations, active: new Map([[5433, active(pg, 5433)]]) }, probe);
    assert.deepEqual(second.decided, []);
    assert.equal(second.forwards[0]?.localPort, 5433);
  });

  it("forgets a choice when the container's port is gone", async () => {
    const first = await resolveConflicts([pg], { policy: "next-free", relocations: new Map(), active: new Map() }, fakeProbe({ 5432: null }));
    const later = await resolveConflicts([web], { policy: "next-free", relocations: first.relocations, active: new Map() }, fakeProbe({}));
    assert.equal(later.relocations.size, 0);
  });
});
