/**
 * Kafka access for interactive CLI commands. Workers retry for a long time (a broker restart must not kill
 * them); a person at a terminal wants a one-line answer within seconds. So every admin, producer and consumer
 * made here uses a short, bounded retry policy, and connection failures are turned into one message that
 * names LISTFLOW_KAFKA_BROKERS instead of the client's retry chain.
 */
import { createKafka } from '../runtime/kafka';
import type { KafkaAdmin, KafkaClient, KafkaProducer, RetryPolicy } from '../runtime/kafka-client';
import type { CliContext } from './context';

/** About 3 s in total against a closed port (connection timeout 5 s per broker attempt stays the limit). */
export const CLI_RETRY: RetryPolicy = { retries: 2, initialRetryTime: 250, maxRetryTime: 1000 };

/** A group's coordinator still loading (fresh or restarted broker) is waited for this long, not forever. */
export const CLI_OFFSETS = { timeoutMs: 10_000 } as const;

export class KafkaUnavailableError extends Error {
  override readonly name = 'KafkaUnavailableError';
}

/** Deepest message of a client's error chain (retriesExceeded -> connection error -> ECONNREFUSED). */
function rootMessage(e: unknown): string {
  let cur = e as { message?: string; originalError?: unknown; cause?: unknown } | undefined;
  let msg = String((cur as Error | undefined)?.message ?? e);
  for (let i = 0; i < 5 && cur; i++) {
    if (cur.message) msg = cur.message;
    cur = (cur.originalError ?? cur.cause) as typeof cur;
  }
  return msg;
}

/** Rewrites connection-level failures (as the client tells them) as one readable line; anything else passes through. */
export function explainKafkaError(
  e: unknown,
  brokers: readonly string[],
  kafka: Pick<KafkaClient, 'isConnectionError'>,
): unknown {
  if (!kafka.isConnectionError(e)) return e;
  return new KafkaUnavailableError(
    `cannot reach Kafka at ${brokers.join(',')} (LISTFLOW_KAFKA_BROKERS): ${rootMessage(e)}. Is the platform up? Try \`listflow infra status\`.`,
  );
}

const clients = new WeakMap<CliContext, KafkaClient>();

/**
 * The CLI's Kafka client: the context's connection settings with the short retry policy. (The retry policy of
 * the cluster connection is the client's, not the admin's or producer's, so it has to be set here.)
 */
export function cliKafka(ctx: CliContext): KafkaClient {
  let k = clients.get(ctx);
  if (!k) {
    k = createKafka(ctx.settings, 'cli', undefined, CLI_RETRY);
    clients.set(ctx, k);
  }
  return k;
}

export async function withKafka<T>(ctx: CliContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw explainKafkaError(e, ctx.settings.kafkaBrokers, cliKafka(ctx));
  }
}

export async function connectAdmin(ctx: CliContext): Promise<KafkaAdmin> {
  const admin = cliKafka(ctx).admin({ retry: CLI_RETRY });
  await withKafka(ctx, () => admin.connect());
  return admin;
}

export async function connectProducer(ctx: CliContext): Promise<KafkaProducer> {
  const producer = cliKafka(ctx).producer({ retry: CLI_RETRY });
  await withKafka(ctx, () => producer.connect());
  return producer;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
