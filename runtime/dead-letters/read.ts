/**
 * Reading dead letters: every letter of a pipeline (its `<input>.dlq` topics, to their ends now), one letter by
 * its position, their counts, the redrive ledger, and a letter's value for people. Through the one topic reader
 * (runtime/topic-reader.ts); `listflow dlq`, `listflow status` and the status page present what these return.
 */
import { withAdmin } from '../kafka';
import type { ConsumedMessage, KafkaAdmin, KafkaClient } from '../kafka-client';
import { dlqTopicsOf, type PipelineSpec } from '../pipeline';
import type { AvroSerde } from '../serde';
import { type ReadMessage, readAllToEnd, readAt, type ReaderOptions } from '../topic-reader';
import { type DeadLetter, type DeadLetterMessage, type LetterRef, ledgerKey, readDeadLetter } from './letters';

export class DeadLetterReadError extends Error {
  override readonly name = 'DeadLetterReadError';
}

const toLetterMessage = (topic: string, partition: number, m: ConsumedMessage): DeadLetterMessage => ({
  topic,
  partition,
  offset: m.offset,
  key: m.key,
  value: m.value,
  headers: m.headers,
  timestamp: m.timestamp,
});

/**
 * Every record of `topics` (those that exist) from the start to their ends at the time of the call, ordered by
 * topic, partition and offset.
 */
export async function readMessages(
  kafka: KafkaClient,
  topics: readonly string[],
  opts: ReaderOptions & { stallMs?: number } = {},
): Promise<DeadLetterMessage[]> {
  const read = await readAllToEnd(kafka, topics, opts);
  return read.map((r: ReadMessage) => toLetterMessage(r.topic, r.partition, r.message));
}

/** Every dead letter of the pipeline's steps, read from the start of each dead-letter topic to its end now. */
export async function listDeadLetters(kafka: KafkaClient, pipeline: PipelineSpec): Promise<DeadLetter[]> {
  return (await readMessages(kafka, dlqTopicsOf(pipeline))).map(readDeadLetter);
}

/** Dead letters each dead-letter topic holds now (high - low; null when the topic does not exist). */
export async function countDeadLetters(admin: KafkaAdmin, pipeline: PipelineSpec): Promise<Map<string, number | null>> {
  const existing = new Set(await admin.listTopics());
  const out = new Map<string, number | null>();
  for (const topic of dlqTopicsOf(pipeline)) {
    if (!existing.has(topic)) {
      out.set(topic, null);
      continue;
    }
    const offsets = await admin.fetchTopicOffsets(topic);
    out.set(
      topic,
      offsets.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0),
    );
  }
  return out;
}

/** The one message at `ref`; a DeadLetterReadError names what the partition holds when there is none. */
export async function readOne(kafka: KafkaClient, ref: LetterRef, timeoutMs = 30_000): Promise<DeadLetterMessage> {
  await withAdmin(kafka, async (admin) => {
    if (!(await admin.listTopics()).includes(ref.topic)) {
      throw new DeadLetterReadError(`Topic ${ref.topic} does not exist.`);
    }
    const p = (await admin.fetchTopicOffsets(ref.topic)).find((x) => x.partition === ref.partition);
    if (!p) throw new DeadLetterReadError(`Topic ${ref.topic} has no partition ${ref.partition}.`);
    const o = BigInt(ref.offset);
    if (o < BigInt(p.low) || o >= BigInt(p.high)) {
      throw new DeadLetterReadError(
        `No message at ${ledgerKey(ref)}: partition ${ref.partition} holds offsets ${p.low} to ${BigInt(p.high) - 1n}.`,
      );
    }
  });
  const found = await readAt(kafka, ref, { timeoutMs });
  if (!found) throw new DeadLetterReadError(`No message at ${ledgerKey(ref)} (removed by retention or compaction?).`);
  return toLetterMessage(ref.topic, ref.partition, found);
}

/** Letters already redriven, by ledger key (a null value, a tombstone, forgets one). */
export async function readLedger(kafka: KafkaClient, topic: string): Promise<Set<string>> {
  const done = new Set<string>();
  for (const m of await readMessages(kafka, [topic])) {
    const k = m.key?.toString('utf8');
    if (!k) continue;
    if (m.value === null) done.delete(k);
    else done.add(k);
  }
  return done;
}

/** Control characters other than tab, newline and carriage return: binary, not text. */
const hasControlChars = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 9 || (c > 13 && c < 32)) return true;
  }
  return false;
};

export interface DescribedValue {
  readonly encoding: 'avro' | 'json' | 'text' | 'hex' | 'null';
  readonly schema?: string;
  readonly value: unknown;
  readonly error?: string;
}

/** The value of a letter for humans: decoded Avro of its source topic's schema, else JSON/text, else hex. */
export async function describeValue(
  value: Buffer | null,
  sourceTopic: string | undefined,
  pipeline: PipelineSpec,
  serde: Pick<AvroSerde, 'decode'> | undefined,
): Promise<DescribedValue> {
  if (value === null) return { encoding: 'null', value: null };
  let error: string | undefined;
  const schema = sourceTopic ? pipeline.topics[sourceTopic]?.schema : undefined;
  if (schema && serde && value.length >= 5 && value[0] === 0) {
    const d = await serde.decode(value, schema);
    if (d.ok) return { encoding: 'avro', schema, value: d.value };
    error = `${d.error.code}: ${d.error.message}`;
  }
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(value);
  } catch {
    text = undefined;
  }
  if (text !== undefined && !hasControlChars(text)) {
    try {
      return { encoding: 'json', value: JSON.parse(text), ...(error ? { error } : {}) };
    } catch {
      return { encoding: 'text', value: text, ...(error ? { error } : {}) };
    }
  }
  return { encoding: 'hex', value: value.toString('hex'), ...(error ? { error } : {}) };
}
