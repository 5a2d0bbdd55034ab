/**
 * The one schema-registry client (Confluent API, which Apicurio serves under /apis/ccompat/v7): the library
 * client for what it does well (look up and register a schema id), and `registryRequest` for the requests it
 * does not expose (a schema by id, compatibility checks, subject configs). The serde and `listflow schemas`
 * both use it; basic auth, the timeout and what counts as "unavailable" are decided here once.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { RetriableError } from './errors';

export interface RegistryOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
}

export interface Registry {
  readonly client: SchemaRegistry;
  readonly options: RegistryOptions;
}

export function createRegistry(opts: RegistryOptions): Registry {
  // Loaded here, not at import: the library takes ~0.1-0.4 s to load, which every CLI call would pay.
  const { SchemaRegistry: Client } = require('@kafkajs/confluent-schema-registry') as {
    SchemaRegistry: typeof SchemaRegistry;
  };
  const client = new Client({
    host: opts.url,
    ...(opts.username ? { auth: { username: opts.username, password: opts.password ?? '' } } : {}),
    retry: { retries: 3 },
  });
  return { client, options: opts };
}

/** A request the registry could not answer within this is treated as the registry being unavailable. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface RegistryResponse {
  readonly status: number;
  /** The body parsed as JSON, else its text (null when empty). */
  readonly json: unknown;
}

/**
 * One request to the registry's Confluent API, with basic auth when configured. Any status below 500 is
 * returned for the caller to judge; no answer or a 5xx throws REGISTRY_UNAVAILABLE (retriable).
 */
export async function registryRequest(
  opts: RegistryOptions,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
): Promise<RegistryResponse> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/vnd.schemaregistry.v1+json';
  if (opts.username) {
    headers.authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
  }
  const url = `${opts.url.replace(/\/$/, '')}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    throw new RetriableError('REGISTRY_UNAVAILABLE', `${method} ${url}: ${(e as Error).message}`, { cause: e });
  }
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // keep the text
  }
  if (res.status >= 500) {
    throw new RetriableError('REGISTRY_UNAVAILABLE', `${method} ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  }
  return { status: res.status, json };
}

/** The registry's own explanation in an error body, else the body. */
export const registryMessage = (json: unknown): string =>
  typeof json === 'object' && json !== null && 'message' in json ? String(json.message) : JSON.stringify(json);
