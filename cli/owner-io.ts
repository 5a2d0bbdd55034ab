/**
 * An owning step's I/O for one key, outside its worker: what `listflow sources sync|reset` hand the sources
 * tool so that they write exactly as the step's worker does (runtime/assigned/key-io.ts builds both).
 */
import { operators } from '../operators';
import { type KeyIo, keyIo, type PortOutput } from '../runtime/assigned/key-io';
import { ownerTransactionalId } from '../runtime/assigned/worker';
import { createLogger } from '../runtime/observability';
import type { OutputPorts } from '../runtime/operator';
import type { StepSpec } from '../runtime/pipeline';
import type { SchemaName } from '../schemas/generated/types';
import type { CliContext } from './context';

export type { KeyIo } from '../runtime/assigned/key-io';

export interface OpenKeyIo<P extends OutputPorts> {
  readonly io: KeyIo<P>;
  /** The transactional id the writer uses (the worker's for this key). */
  readonly transactionalId: string;
  close(): Promise<void>;
}

export async function openKeyIo<P extends OutputPorts>(
  ctx: CliContext,
  step: StepSpec,
  key: string,
  signal: AbortSignal,
): Promise<OpenKeyIo<P>> {
  const operator = operators[step.operator as keyof typeof operators];
  if (!operator) throw new Error(`step ${step.id} runs operator ${step.operator}, which is not in the registry`);
  const serde = ctx.serde();
  const outputs = new Map<string, PortOutput>();
  for (const [port, topic] of Object.entries(step.outputs)) {
    const schema = (operator.outputs as Record<string, SchemaName>)[port]!;
    outputs.set(port, { topic, schema, id: await serde.schemaIdFor(topic, schema, ctx.settings.registerSchemas) });
  }
  const transactionalId = ownerTransactionalId(ctx.pipeline, step, key);
  const { io, close } = keyIo<P>({
    kafka: ctx.kafka(),
    serde,
    outputs,
    transactionalId,
    key,
    signal,
    logger: createLogger(ctx.settings.logLevel, { step: step.id, key, cli: true }),
    clock: { now: () => new Date() },
    purpose: `${step.id}-cli-state`,
  });
  return { io, transactionalId, close };
}
