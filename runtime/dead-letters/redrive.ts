/**
 * Redrive: sends selected dead letters' original key, value and headers (minus what the dead-letter writer added,
 * plus listflow.redrive.id and listflow.redrive.of) back to the topic they failed on, rate-limited. Each chunk
 * goes out in one Kafka transaction together with its entries in the compacted ledger topic
 * listflow.dlq-redrive-ledger (key `<dlq topic>:<partition>:<offset>`), so a letter is recorded exactly when
 * it was sent, and letters in the ledger are skipped unless `again`. The transactional id is per pipeline,
 * and the producer fences older redrive runs before the ledger is read, so two concurrent runs cannot both
 * redrive a letter.
 */
import { randomUUID } from 'node:crypto';
import { ensureCompactedTopic, withAdmin } from '../kafka';
import type { KafkaClient } from '../kafka-client';
import type { PipelineSpec } from '../pipeline';
import {
  type DeadLetter,
  type LedgerEntry,
  type LetterFilter,
  ledgerKey,
  matchesFilter,
  notRedrivable,
  REDRIVE_LEDGER_TOPIC,
  redriveHeaders,
} from './letters';
import { listDeadLetters, readLedger } from './read';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface RedriveOptions extends LetterFilter {
  /** Messages per second. */
  readonly rate: number;
  readonly dry: boolean;
  readonly again: boolean;
  readonly ledgerTopic?: string;
  /** Called after each chunk is committed. */
  readonly onProgress?: (sent: number, total: number) => void;
}

export interface RedriveResult {
  readonly redriveId: string;
  /** Letters on the dead-letter topics. */
  readonly letters: number;
  /** Letters matching the filter. */
  readonly selected: number;
  /** Sent (or, with --dry, that would be sent). */
  readonly redriven: number;
  readonly skippedInLedger: number;
  readonly skippedNotRedrivable: number;
  /** Redriven per target topic. */
  readonly byTopic: Readonly<Record<string, number>>;
  /** Why letters could not be redriven, with counts. */
  readonly notRedrivableReasons: Readonly<Record<string, number>>;
  /** The letters redriven (ledger keys). */
  readonly refs: readonly string[];
  readonly dry: boolean;
}

export async function redrive(
  kafka: KafkaClient,
  pipeline: PipelineSpec,
  opts: RedriveOptions,
): Promise<RedriveResult> {
  const ledgerTopic = opts.ledgerTopic ?? REDRIVE_LEDGER_TOPIC;
  const redriveId = randomUUID();
  const letters = await listDeadLetters(kafka, pipeline);
  const selected = letters.filter((l) => matchesFilter(l, opts));
  const existing = new Set(await withAdmin(kafka, (admin) => admin.listTopics()));

  // Fence earlier runs (InitProducerId with our transactional id) before reading the ledger.
  const producer = opts.dry
    ? undefined
    : kafka.producer({ transactionalId: `listflow.dlq-redrive.${pipeline.name}`, idempotent: true });
  try {
    if (producer) {
      await withAdmin(kafka, (admin) => ensureCompactedTopic(admin, ledgerTopic));
      await producer.connect();
    }
    let tx = producer ? await producer.transaction() : undefined;
    const inLedger =
      opts.again || !existing.has(ledgerTopic) ? new Set<string>() : await readLedger(kafka, ledgerTopic);

    const reasons: Record<string, number> = {};
    let skippedInLedger = 0;
    const todo: DeadLetter[] = [];
    for (const l of selected) {
      const why =
        notRedrivable(l) ??
        (l.sourceTopic && !existing.has(l.sourceTopic) ? `topic ${l.sourceTopic} does not exist` : undefined);
      if (why) reasons[why] = (reasons[why] ?? 0) + 1;
      else if (!opts.again && inLedger.has(ledgerKey(l.ref))) skippedInLedger++;
      else todo.push(l);
    }
    const byTopic: Record<string, number> = {};
    for (const l of todo) byTopic[l.sourceTopic!] = (byTopic[l.sourceTopic!] ?? 0) + 1;

    if (tx) {
      const chunk = Math.max(1, Math.min(100, Math.floor(opts.rate)));
      const started = Date.now();
      for (let i = 0; i < todo.length; i += chunk) {
        const due = started + (i / opts.rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        tx ??= await producer!.transaction();
        const part = todo.slice(i, i + chunk);
        const byTarget = new Map<string, DeadLetter[]>();
        for (const l of part) byTarget.set(l.sourceTopic!, [...(byTarget.get(l.sourceTopic!) ?? []), l]);
        const now = new Date().toISOString();
        try {
          await tx.sendBatch({
            topicMessages: [
              ...[...byTarget].map(([topic, ls]) => ({
                topic,
                messages: ls.map((l) => ({
                  key: l.raw.key,
                  value: l.raw.value,
                  headers: redriveHeaders(l, redriveId),
                })),
              })),
              {
                topic: ledgerTopic,
                messages: part.map((l) => {
                  const entry: LedgerEntry = {
                    redriveId,
                    letter: ledgerKey(l.ref),
                    targetTopic: l.sourceTopic!,
                    step: l.step,
                    code: l.code,
                    redrivenAt: now,
                  };
                  return { key: ledgerKey(l.ref), value: JSON.stringify(entry) };
                }),
              },
            ],
          });
          await tx.commit();
        } catch (e) {
          await tx.abort().catch(() => undefined);
          throw e;
        }
        tx = undefined;
        opts.onProgress?.(Math.min(i + chunk, todo.length), todo.length);
      }
      if (tx) await tx.abort();
    }
    return {
      redriveId,
      letters: letters.length,
      selected: selected.length,
      redriven: todo.length,
      skippedInLedger,
      skippedNotRedrivable: Object.values(reasons).reduce((a, b) => a + b, 0),
      byTopic,
      notRedrivableReasons: reasons,
      refs: todo.map((l) => ledgerKey(l.ref)),
      dry: opts.dry,
    };
  } finally {
    await producer?.disconnect();
  }
}
