/**
 * One key's I/O as an owning step writes it, wherever it runs: the step's worker (worker.ts) and the CLI
 * commands that act for a key outside it (`listflow sources sync|reset`). The writer is the key's
 * transactional one (ownerTransactionalId, so opening it fences a live owner and a later owner fences it),
 * values are Avro in the Confluent framing with the schema ids of the step's output topics, and what the key
 * committed is read back read_committed (latest.ts). One builder, so both write exactly alike.
 */
import type { SchemaName } from '../../schemas/generated/types';
import { PermanentError } from '../errors';
import type { KafkaClient } from '../kafka-client';
import type { Clock, Logger, OutputPorts, OwnedGauges, OwnerContext } from '../operator';
import type { AvroSerde } from '../serde';
import { latestByKey } from './latest';
import { openTransactionalWriter, type RecordWriter } from './transactions';

/** An output port's topic, schema and registry id. */
export interface PortOutput {
  readonly topic: string;
  readonly schema: SchemaName;
  readonly id: number;
}

export type KeyIo<P extends OutputPorts> = Omit<OwnerContext<unknown, unknown, P>, 'config' | 'services'>;

export interface KeyIoOptions {
  readonly kafka: KafkaClient;
  readonly serde: AvroSerde;
  readonly outputs: ReadonlyMap<string, PortOutput>;
  readonly transactionalId: string;
  readonly key: string;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Names the reads' consumers (`<step>-state`). */
  readonly purpose: string;
  readonly gauges?: OwnedGauges;
}

export function keyIo<P extends OutputPorts>(o: KeyIoOptions): { io: KeyIo<P>; close(): Promise<void> } {
  const writers: RecordWriter[] = [];
  const port = (p: string, what: string): PortOutput => {
    const out = o.outputs.get(p);
    if (!out) throw new PermanentError('OPERATOR_BUG', `${what} of unknown port ${JSON.stringify(p)}`);
    return out;
  };
  const decode = async (bytes: Buffer, out: PortOutput): Promise<never> => {
    const d = await o.serde.decode(bytes, out.schema);
    if (!d.ok) throw d.error;
    return d.value as never;
  };
  const io: KeyIo<P> = {
    logger: o.logger,
    clock: o.clock,
    key: o.key,
    signal: o.signal,
    async transactions() {
      const writer = await openTransactionalWriter(o.kafka, o.transactionalId);
      writers.push(writer);
      return {
        commit: (emits) =>
          writer.commit(
            emits.map((e) => {
              const out = port(e.port, 'emit');
              return {
                topic: out.topic,
                key: e.key,
                value: e.value === null ? null : o.serde.encode(out.id, out.schema, e.value),
                ...(e.headers ? { headers: e.headers } : {}),
              };
            }),
          ),
      };
    },
    async lastCommitted(p) {
      const out = port(p, 'lastCommitted');
      const bytes = (await latestByKey(o.kafka, out.topic, { key: o.key, purpose: o.purpose })).get(o.key);
      return bytes === undefined ? undefined : decode(bytes, out);
    },
    async committed(p, keyPrefix) {
      const out = port(p, 'committed');
      const values = new Map<string, never>();
      for (const [k, bytes] of await latestByKey(o.kafka, out.topic, { keyPrefix, purpose: o.purpose }))
        values.set(k, await decode(bytes, out));
      return values;
    },
    gauges: o.gauges ?? { set: () => undefined },
  };
  return {
    io,
    close: async () => {
      await Promise.all(writers.map((w) => w.close().catch(() => undefined)));
    },
  };
}
