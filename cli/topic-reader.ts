/**
 * The CLI's topic reader: runtime/topic-reader.ts with the CLI's short retry policy and its one-line
 * explanation of connection failures (cli/kafka-io.ts), for commands that follow the pipeline (ingest --wait,
 * status). A reader is never a worker: a throw-away group that never commits.
 */
import { type Offsets, TopicReader as Reader, type ReadMessage, readToEnd } from '../runtime/topic-reader';
import type { CliContext } from './context';
import { CLI_RETRY, cliKafka, withKafka } from './kafka-io';

export { endOffsets, type Offsets, type ReadMessage, startOffsets } from '../runtime/topic-reader';

export class TopicReader extends Reader {
  constructor(ctx: CliContext, purpose: string, from: Offsets, onMessage: (m: ReadMessage) => void | Promise<void>) {
    super(cliKafka(ctx), purpose, from, onMessage, { retry: CLI_RETRY, wrap: (fn) => withKafka(ctx, fn) });
  }
}

/** Reads `topics` from their start to their ends now (runtime/topic-reader.ts readToEnd), the CLI's way. */
export function readTopicsToEnd(
  ctx: CliContext,
  purpose: string,
  topics: readonly string[],
  onMessage: (m: ReadMessage) => void | Promise<void>,
): Promise<void> {
  return readToEnd(cliKafka(ctx), topics, onMessage, {
    purpose,
    retry: CLI_RETRY,
    wrap: (fn) => withKafka(ctx, fn),
    stallMs: 60_000,
  });
}
