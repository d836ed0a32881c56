/**
 * The test bed's network: a namespace joined to this machine by a veth pair
 * carrying a /30 from 10.200.0.0/16. Subnet choice is a pure function so it
 * can be tested without root.
 *
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { run, runSync } from "./_exec.ts";

/** Base of the address block reserved for test beds. */
export const TESTBED_BLOCK = "10.200.0.0/16";

/** Path of a named network namespace (what `ip netns add` creates). */
export function netnsPath(name: string): string {
  return `/var/run/netns/${name}`;
}

function toInt(addr: string): number {
  const p = addr.split(".").map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

function toAddr(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** One IPv4 network in CIDR form. */
export interface Cidr {
  address: string;
  prefix: number;
}

/** Parses the IPv4 networks out of `ip -o -4 addr show` output. */
export function parseIpAddrOutput(text: string): Cidr[] {
  const out: Cidr[] = [];
  for (const m of text.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\/(\d+)/g)) {
    out.push({ address: m[1]!, prefix: Number(m[2]) });
  }
  return out;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return ((toInt(a.address) & mask) >>> 0) === ((toInt(b.address) & mask) >>> 0);
}

/** Host end, namespace end and network of one test bed's /30. */
export interface TestbedSubnet {
  subnet: string;
  localAddress: string;
  remoteAddress: string;
}

/** The /30 with index i (0..16383) inside 10.200.0.0/16. */
export function subnetAt(i: number): TestbedSubnet {
  const base = toInt("10.200.0.0") + i * 4;
  return { subnet: toAddr(base), localAddress: toAddr(base + 1), remoteAddress: toAddr(base + 2) };
}

/**
 * Picks a /30 that overlaps none of `inUse` (addresses on this machine) and
 * none of `claimed` (subnets other test beds hold). Random start so that
 * concurrent runs rarely race for the same one; the claim file settles races.
 */
export function pickSubnet(inUse: readonly Cidr[], claimed: ReadonlySet<string>, random: () => number = Math.random): TestbedSubnet[] {
  const count = 16384;
  const start = Math.floor(random() * count);
  const out: TestbedSubnet[] = [];
  // Skip the first and last /30 of the block: 10.200.0.0 and 10.200.255.252 look like network/broadcast to humans.
  for (let k = 0; k < count && out.length < 8; k++) {
    const i = (start + k) % count;
    if (i === 0 || i === count - 1) continue;
    const s = subnetAt(i);
    if (claimed.has(s.subnet)) continue;
    if (inUse.some((c) => overlaps(c, { address: s.subnet, prefix: 30 }))) continue;
    out.push(s);
  }
  return out;
}

/** IPv4 networks currently configured on this machine's interfaces. */
export async function addressesInUse(): Promise<Cidr[]> {
  const r = await run(["ip", "-o", "-4", "addr", "show"]);
  return parseIpAddrOutput(r.stdout);
}

async function must(argv: string[]): Promise<void> {
  const r = await run(argv, { timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`test bed network setup failed: \`${argv.join(" ")}\` exited ${r.code}: ${r.stderr.trim()}`);
}

/** Creates the namespace, the veth pair and the addresses; returns the netns inode. */
export async function createNetwork(opts: { netns: string; hostVeth: string; nsVeth: string } & TestbedSubnet): Promise<number> {
  const { netns, hostVeth, nsVeth, localAddress, remoteAddress } = opts;
  await must(["ip", "netns", "add", netns]);
  await must(["ip", "link", "add", hostVeth, "type", "veth", "peer", "name", nsVeth, "netns", netns]);
  await must(["ip", "addr", "add", `${localAddress}/30`, "dev", hostVeth]);
  await must(["ip", "link", "set", hostVeth, "up"]);
  await must(["ip", "-n", netns, "addr", "add", `${remoteAddress}/30`, "dev", nsVeth]);
  await must(["ip", "-n", netns, "link", "set", nsVeth, "up"]);
  await must(["ip", "-n", netns, "link", "set", "lo", "up"]);
  return statSync(netnsPath(netns)).ino;
}

/** Inode of a live named namespace, or null when it does not exist. */
export function netnsInode(netns: string): number | null {
  try {
    return statSync(netnsPath(netns)).ino;
  } catch {
    return null;
  }
}

/** Whether a network interface of that name exists on this machine. */
export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** Removes veth and namespace; safe to call when either is already gone. */
export function deleteNetworkSync(netns: string, hostVeth: string, remoteAddress?: string): void {
  // A run that died during a network cut leaves its blackhole route behind.
  if (remoteAddress) runSync(["ip", "route", "del", "blackhole", `${remoteAddress}/32`]);
  if (linkExists(hostVeth)) runSync(["ip", "link", "del", hostVeth]);
  if (existsSync(netnsPath(netns))) runSync(["ip", "netns", "del", netns]);
}

/**
 * How a network cut looks from this machine:
 * - "blackhole": the namespace end of the veth goes down and a blackhole
 *   route drops the packets here, so a connect fails at once ("Invalid
 *   argument") and nothing leaves this machine. (Not the host end: with it
 *   down its connected route disappears and packets for the remote address
 *   would follow the default route off this machine.)
 * - "silent": the namespace drops every IP packet that arrives on its veth
 *   (ARP still answers), like a path that dies beyond the first hop: packets
 *   vanish, no error comes back, a connect hangs until its timeout.
 */
export type CutKind = "blackhole" | "silent";

function inNetns(netns: string, argv: string[]): string[] {
  return ["nsenter", `--net=${netnsPath(netns)}`, "--", ...argv];
}

/** Cuts the link (as `how` says) or restores it, whichever way it was cut. */
export async function setLink(netns: string, nsVeth: string, remoteAddress: string, up: boolean, how: CutKind = "blackhole"): Promise<void> {
  const dropRule = ["INPUT", "-i", nsVeth, "-j", "DROP"];
  if (!up) {
    if (how === "silent") return must(inNetns(netns, ["iptables", "-I", ...dropRule]));
    await must(["ip", "route", "replace", "blackhole", `${remoteAddress}/32`]);
    return must(inNetns(netns, ["ip", "link", "set", nsVeth, "down"]));
  }
  // Undo either kind of cut; the parts that are not there fail harmlessly.
  while ((await run(inNetns(netns, ["iptables", "-D", ...dropRule]), { timeoutMs: 15_000 })).code === 0);
  await must(inNetns(netns, ["ip", "link", "set", nsVeth, "up"]));
  await run(["ip", "route", "del", "blackhole", `${remoteAddress}/32`], { timeoutMs: 15_000 });
}
