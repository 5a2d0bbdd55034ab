/**
 * An owning step's I/O for one key, outside its worker: what `listflow sources sync|reset` hand the sources
 * tool so that they write exactly as the step's worker does. The writer is runtime/assigned/transactions.ts's
 * with the key's transactional id (ownerTransactionalId), so opening it fences a live owner and a later owner
 * fences it; values are Avro in the Confluent framing with the schema ids of the step's output topics; the
 * key's last committed state is read back read_committed (runtime/assigned/latest.ts). It mirrors
 * runtime/assigned/worker.ts's context() (emit -> KeyedRecord), which is not exported.
 */
import { operators } from '../operators';
import { latestByKey } from '../runtime/assigned/latest';
import { openTransactionalWriter, type RecordWriter } from '../runtime/assigned/transactions';
import { ownerTransactionalId } from '../runtime/assigned/worker';
import { createLogger } from '../runtime/observability';
import type { OutputPorts, OwnerContext } from '../runtime/operator';
import type { StepSpec } from '../runtime/pipeline';
import type { SchemaName } from '../schemas/generated/types';
import type { CliContext } from './context';

export type KeyIo<P extends OutputPorts> = Omit<OwnerContext<unknown, unknown, P>, 'config' | 'services'>;

export interface OpenKeyIo<P extends OutputPorts> {
  readonly io: KeyIo<P>;
  /** The transactional id the writer uses (the worker's for this key). */
  readonly transactionalId: string;
  close(): Promise<void>;
}

export async function keyIo<P extends OutputPorts>(
  ctx: CliContext,
  step: StepSpec,
  key: string,
  signal: AbortSignal,
): Promise<OpenKeyIo<P>> {
  const operator = operators[step.operator as keyof typeof operators];
  if (!operator) throw new Error(`step ${step.id} runs operator ${step.operator}, which is not in the registry`);
  const serde = ctx.serde();
  const outputs = new Map<string, { topic: string; schema: SchemaName; id: number }>();
  for (const [port, topic] of Object.entries(step.outputs)) {
    const schema = (operator.outputs as Record<string, SchemaName>)[port]!;
    outputs.set(port, { topic, schema, id: await serde.schemaIdFor(topic, schema, ctx.settings.registerSchemas) });
  }
  const port = (p: string) => {
    const o = outputs.get(p);
    if (!o) throw new Error(`step ${step.id} has no output port ${JSON.stringify(p)}`);
    return o;
  };
  const transactionalId = ownerTransactionalId(ctx.pipeline, step, key);
  const writers: RecordWriter[] = [];
  const io: KeyIo<P> = {
    logger: createLogger(ctx.settings.logLevel, { step: step.id, key, cli: true }),
    clock: { now: () => new Date() },
    key,
    signal,
    async transactions() {
      const writer = await openTransactionalWriter(ctx.kafka(), transactionalId);
      writers.push(writer);
      return {
        commit: (emits) =>
          writer.commit(
            emits.map((e) => {
              const out = port(e.port);
              return {
                topic: out.topic,
                key: e.key,
                value: e.value === null ? null : serde.encode(out.id, out.schema, e.value),
                ...(e.headers ? { headers: e.headers } : {}),
              };
            }),
          ),
      };
    },
    async lastCommitted(p) {
      const out = port(p);
      const bytes = (await latestByKey(ctx.kafka(), out.topic, { key, purpose: `${step.id}-cli-state` })).get(key);
      if (bytes === undefined) return undefined;
      const d = await serde.decode(bytes, out.schema);
      if (!d.ok) throw d.error;
      return d.value as never;
    },
    gauges: { set: () => undefined },
  };
  return {
    io,
    transactionalId,
    close: async () => {
      await Promise.all(writers.map((w) => w.close().catch(() => undefined)));
    },
  };
}
