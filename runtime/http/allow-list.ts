/**
 * The allow list of an operator's outbound requests: `host[:port]` entries, validated when the config is
 * parsed. An entry opens the guard for that host (on that port, or on any port without one): its addresses
 * are not checked, and a nextLink may leave its feed's origin for it. Nothing else opens the guard.
 *
 * Hosts are matched as written in the URL (a name is not resolved to see whether it "is" an allowed IP).
 */
import { isIP } from 'node:net';
import { type FieldSpec, field } from '../config';

interface AllowEntry {
  readonly host: string;
  /** undefined: any port. */
  readonly port: number | undefined;
}

const NAME = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/;

/** Parses one `host[:port]` entry (a DNS name, an IPv4 literal or a bracketed IPv6 literal), or returns why not. */
export function parseAllowEntry(raw: string): AllowEntry | string {
  const s = raw.trim().toLowerCase();
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return `${JSON.stringify(raw)} is not host[:port]`;
  const hostPart = m[1]!;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65_535)) return `${JSON.stringify(raw)} has a port outside 1-65535`;
  if (hostPart.startsWith('[')) {
    const ip = hostPart.slice(1, -1);
    if (isIP(ip) !== 6) return `${JSON.stringify(raw)} has brackets around something that is not an IPv6 address`;
    return { host: normaliseHost(ip), port };
  }
  if (isIP(hostPart) === 4 || NAME.test(hostPart)) return { host: normaliseHost(hostPart), port };
  return `${JSON.stringify(raw)} is not a host name, an IPv4 address or a [bracketed] IPv6 address`;
}

/** Lower case, no brackets, IPv6 in URL-canonical form (as `new URL().hostname` writes it, less brackets). */
function normaliseHost(host: string): string {
  const bare = host.toLowerCase().replace(/^\[|\]$/g, '');
  return isIP(bare) === 6 ? new URL(`http://[${bare}]/`).hostname.slice(1, -1) : bare;
}

export class AllowList {
  private readonly entries: readonly AllowEntry[];

  /** `entries` were validated by `allowHostsField`; an invalid one here is a bug, so it throws. */
  constructor(entries: readonly string[]) {
    this.entries = entries.map((e) => {
      const parsed = parseAllowEntry(e);
      if (typeof parsed === 'string') throw new TypeError(`allow list: ${parsed}`);
      return parsed;
    });
  }

  /** Whether a request to `host` (a URL hostname, brackets or not) on `port` may skip the address check. */
  permits(host: string, port: number): boolean {
    const h = normaliseHost(host);
    return this.entries.some((e) => e.host === h && (e.port === undefined || e.port === port));
  }

  get size(): number {
    return this.entries.length;
  }
}

/** The URL's port, or its scheme's default (80, 443). */
export const portOf = (url: URL): number => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);

/** A config field holding an allow list: a comma-separated list of `host[:port]`, each checked at parse time. */
export function allowHostsField(opts: { description: string; example: string }): FieldSpec<string[]> {
  const list = field.list({ description: opts.description, default: [], allowEmpty: true, example: opts.example });
  return {
    ...list,
    type: 'comma-separated host[:port] list',
    parse(raw) {
      const r = list.parse(raw);
      if (!r.ok) return r;
      const bad = r.value.map(parseAllowEntry).filter((p): p is string => typeof p === 'string');
      if (bad.length > 0) {
        return { ok: false, expected: `comma-separated host[:port] entries (${bad.join('; ')})` };
      }
      return r;
    },
  };
}
