/**
 * Which IP addresses an outbound request of the product may reach: public unicast only.
 *
 * The ranges come from ipaddr.js (`range()`, its table of IANA special-purpose registries), not from a list
 * kept here, so a range the registries add reaches us with the library. On top of it, this module refuses:
 * - every IPv6 form that embeds an IPv4 address (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, 6to4
 *   2002::/16, Teredo 2001::/32, NAT64 64:ff9b::/96 and 64:ff9b:1::/48): a gateway may turn them into the
 *   embedded IPv4 address, private or not, so they are refused whatever they embed;
 * - the cloud metadata addresses by name (169.254.169.254, fd00:ec2::254), so a refusal says what was hit.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface AddressVerdict {
  readonly allowed: boolean;
  /** The address as checked (IPv6 in its normalised form). */
  readonly address: string;
  /** `publicUnicast` when allowed; otherwise the range that refused it, e.g. `loopback`, `ipv4Mapped`. */
  readonly rule: string;
}

const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254']);

/** Plain-words names of the rules, for messages. */
const RULE_TEXT: Readonly<Record<string, string>> = {
  cloudMetadata: 'a cloud metadata address',
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address',
  carrierGradeNat: 'a carrier-grade NAT address',
  unspecified: 'an unspecified ("this network") address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  uniqueLocal: 'a unique-local address',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
  ipv4Compatible: 'an IPv4-compatible IPv6 address',
  rfc6145: 'an IPv4-translated IPv6 address',
  rfc6052: 'a NAT64 address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
  notAnAddress: 'not an IP address',
};

/** "a loopback address", "a NAT64 address"; ipaddr's own name for ranges without a sentence here. */
export const describeRule = (rule: string): string => RULE_TEXT[rule] ?? `a special-purpose address (${rule})`;

/** Decides whether `address` (an IP literal, as DNS answers it or a URL carries it) may be reached. */
export function checkAddress(address: string): AddressVerdict {
  const literal = address.replace(/^\[|\]$/g, '');
  // net.isIP, not ipaddr.isValid: the latter also takes shorthand like `127.1` or `2130706433`, which no
  // resolver answers (and URL parsing has already turned into dotted form).
  if (isIP(literal) === 0) return { allowed: false, address: literal, rule: 'notAnAddress' };
  const ip = ipaddr.parse(isIP(literal) === 6 ? canonicalIpv6(literal) : literal);
  const normal = ip.toString();
  if (METADATA.has(normal)) return { allowed: false, address: normal, rule: 'cloudMetadata' };
  let rule: string = ip.range();
  if (ip.kind() === 'ipv6' && rule === 'unicast' && isIpv4Compatible(ip as ipaddr.IPv6)) rule = 'ipv4Compatible';
  if (rule === 'unicast') return { allowed: true, address: normal, rule: 'publicUnicast' };
  return { allowed: false, address: normal, rule };
}

/**
 * The URL standard's form of an IPv6 address, zone dropped. ipaddr.js reads a dotted tail as IPv4-mapped
 * whatever precedes it (`::8.8.8.8` as `::ffff:808:808`); the URL parser reads it as written.
 */
function canonicalIpv6(literal: string): string {
  const bare = literal.replace(/%.*$/, '');
  return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
}

/** ::a.b.c.d (deprecated by RFC 4291, but a stack may still route it to the IPv4 address). */
function isIpv4Compatible(ip: ipaddr.IPv6): boolean {
  return ip.parts.slice(0, 6).every((p) => p === 0);
}
