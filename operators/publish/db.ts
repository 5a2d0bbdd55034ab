/**
 * The database behind publish: a small transaction interface (what process code and fakes see), its pg
 * implementation, and the mapping of PostgreSQL failures to catalogue codes.
 */
import pg from 'pg';
import { ListflowError, PermanentError, RetriableError } from '../../runtime/errors';

export interface Queryable {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }>;
}

export interface Db {
  /** Runs `fn` inside BEGIN ... COMMIT; rolls back and rethrows (classified) on any failure. */
  transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** SQLSTATE classes and codes worth retrying: connection, transaction rollback (serialization, deadlock),
 * insufficient resources, operator intervention (shutdown, statement timeout), system errors, lock timeouts. */
const RETRIABLE_CLASSES = new Set(['08', '40', '53', '57', '58']);
const RETRIABLE_CODES = new Set(['55P03', '55006']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Maps a failure to PUBLISH_DB_UNAVAILABLE (retriable) or PUBLISH_DB_REJECTED (permanent: constraint, data,
 * syntax and other errors that the same input would hit again). Unknown failures are treated as transient.
 */
export function classifyDbError(e: unknown): ListflowError {
  if (e instanceof ListflowError) return e;
  const err = e as { code?: unknown; message?: unknown; constraint?: unknown };
  const code = typeof err?.code === 'string' ? err.code : '';
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const detail: Record<string, string> = code ? { sqlstate: code } : {};
  if (typeof err?.constraint === 'string') detail['constraint'] = err.constraint;
  if (/^[0-9A-Z]{5}$/.test(code) && !NETWORK_CODES.has(code)) {
    if (RETRIABLE_CLASSES.has(code.slice(0, 2)) || RETRIABLE_CODES.has(code)) {
      return new RetriableError('PUBLISH_DB_UNAVAILABLE', `PostgreSQL ${code}: ${message}`, { cause: e, detail });
    }
    return new PermanentError('PUBLISH_DB_REJECTED', `PostgreSQL ${code}: ${message}`, { cause: e, detail });
  }
  return new RetriableError('PUBLISH_DB_UNAVAILABLE', `PostgreSQL unavailable: ${code || message}`, {
    cause: e,
    detail,
  });
}

export interface PgDbOptions {
  readonly url: string;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export function createPgDb(opts: PgDbOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    statement_timeout: opts.statementTimeoutMs,
    application_name: 'listflow-publish',
  });
  // An idle client that loses its connection must not crash the worker; the next query reconnects.
  pool.on('error', () => undefined);
  return {
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw classifyDbError(e);
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async (text, values) => {
            const r = await client.query(text, values as unknown[] | undefined);
            return { rows: r.rows };
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (e) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone: do not return it to the pool
        }
        throw classifyDbError(e);
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
