/**
 * The connection step of the guarded client: where the address check happens.
 *
 * A name is resolved once, inside the socket's own DNS lookup, and the socket connects to exactly the
 * addresses that were checked, so a DNS answer that changes between a check and the connect (rebinding)
 * has nothing to slip through. Every address of the answer must pass, not just the first: with
 * happy-eyeballs the socket may try any of them. IP literals never reach a lookup (the socket connects to
 * them directly), so they are checked here before connecting. A host on the allow list skips the check.
 */
import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { buildConnector as BuildConnector } from 'undici';
import { type AddressVerdict, checkAddress } from './address-policy';
import type { AllowList } from './allow-list';

/** All addresses of a name, as the system resolver answers them (tests pass a table). */
export type Resolver = (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

export const systemResolver: Resolver = (host) =>
  new Promise((ok, ko) =>
    dnsLookup(host, { all: true, order: 'verbatim' }, (err, addresses) => (err ? ko(err) : ok(addresses))),
  );

/** Raised inside the connection step; the client turns it into the operator's *_BLOCKED_URL error. */
export class BlockedAddressError extends Error {
  readonly code = 'LISTFLOW_BLOCKED_ADDRESS';
  constructor(
    readonly host: string,
    readonly verdict: AddressVerdict,
  ) {
    super(`${host} resolves to ${verdict.address}, refused by the rule ${verdict.rule}`);
    this.name = 'BlockedAddressError';
  }
}

function lookupWith(resolver: Resolver, check: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname).then(
      (addresses) => {
        const refused = check ? addresses.map((a) => checkAddress(a.address)).find((v) => !v.allowed) : undefined;
        if (refused) return callback(new BlockedAddressError(hostname, refused), '', 4);
        if (addresses.length === 0) {
          const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
          return callback(e, '', 4);
        }
        // The callback's overloads (one address or all) are not expressible as one call signature.
        if (options.all) return (callback as (e: null, a: typeof addresses) => void)(null, addresses);
        return callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 4),
    );
  };
}

export interface GuardedConnectOptions {
  readonly allow: AllowList;
  readonly connectTimeoutMs: number;
  readonly resolver: Resolver;
  /** Trusted CA certificates instead of the system's (PEM). */
  readonly ca?: string | undefined;
}

/** An undici `connect` function: checked connections, except to allow-listed host:port pairs. */
export function guardedConnect(opts: GuardedConnectOptions): BuildConnector.connector {
  // Loaded with the client (see guardedClient), not at import.
  const { buildConnector } = require('undici') as { buildConnector: typeof BuildConnector };
  const common = { timeout: opts.connectTimeoutMs, allowH2: false, ...(opts.ca ? { ca: opts.ca } : {}) };
  const checked = buildConnector({ ...common, lookup: lookupWith(opts.resolver, true) });
  const open = buildConnector({ ...common, lookup: lookupWith(opts.resolver, false) });
  return (options, callback) => {
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
    if (opts.allow.permits(options.hostname, port)) return open(options, callback);
    if (isIP(options.hostname) !== 0) {
      const verdict = checkAddress(options.hostname);
      if (!verdict.allowed) {
        // Asynchronously, as a real connect fails: undici sets up its bookkeeping after calling the connector.
        process.nextTick(callback, new BlockedAddressError(options.hostname, verdict), null);
        return;
      }
    }
    return checked(options, callback);
  };
}
