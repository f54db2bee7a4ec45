/**
 * Whether a webhook URL's host names this machine or a private network by itself: `localhost`
 * and its subdomains, and IP literals in loopback, private, link-local (cloud metadata),
 * shared (CGNAT), unspecified, multicast or reserved ranges, in IPv4 or IPv6 (mapped, NAT64 and
 * 6to4 forms look at the IPv4 address inside). The WHATWG URL parser has already turned decimal,
 * hex, octal and short IPv4 forms into dotted quads and IPv6 into its compressed form.
 *
 * Names that merely resolve to such addresses cannot be seen here (Workers have no DNS lookup);
 * production's `fetch` does not reach private networks.
 */

/** [first address as a 32-bit number, prefix length] */
const NON_PUBLIC_V4: Array<[string, number]> = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
];

function v4Number(dotted: string): number | null {
  const parts = dotted.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return null;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

function isNonPublicV4(address: number): boolean {
  return NON_PUBLIC_V4.some(([first, prefix]) => {
    const size = 2 ** (32 - prefix);
    return Math.floor(address / size) === Math.floor(v4Number(first)! / size);
  });
}

/** The eight 16-bit groups of a bracket-less IPv6 literal, or null. */
function v6Groups(literal: string): number[] | null {
  const [head, tail, extra] = literal.split("::");
  if (extra !== undefined) return null;
  const groups = (text: string | undefined) => (text ? text.split(":") : []);
  const parse = (list: string[]) => list.map((group) => (/^[0-9a-f]{1,4}$/.test(group) ? parseInt(group, 16) : NaN));
  const front = parse(groups(head));
  const back = parse(groups(tail));
  const missing = 8 - front.length - back.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const all = [...front, ...Array<number>(tail === undefined ? 0 : missing).fill(0), ...back];
  return all.some(Number.isNaN) ? null : all;
}

function isNonPublicV6(groups: number[]): boolean {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const v4At = (high: number, low: number) => high * 65536 + low;
  // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped).
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && (g5 === 0 || g5 === 0xffff)) return g5 === 0 || isNonPublicV4(v4At(g6, g7));
  // 64:ff9b::/96, NAT64 of an IPv4 address.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isNonPublicV4(v4At(g6, g7));
  // 2002::/16, 6to4 of the IPv4 address in groups 1 and 2.
  if (g0 === 0x2002) return isNonPublicV4(v4At(g1, g2));
  // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast.
  return (g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0 || (g0 & 0xff00) === 0xff00;
}

/** Whether `hostname` (as `URL.hostname` gives it) is this machine or a non-public address. */
export function isNonPublicHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host.startsWith("[") && host.endsWith("]")) {
    const groups = v6Groups(host.slice(1, -1));
    // A literal this parser cannot read is refused rather than trusted.
    return groups === null || isNonPublicV6(groups);
  }
  const v4 = v4Number(host);
  return v4 !== null && isNonPublicV4(v4);
}
