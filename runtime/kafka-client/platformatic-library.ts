/**
 * The part of @platformatic/kafka's consumer and message stream that the adapter (platformatic-consumer.ts)
 * uses, as interfaces: the adapter is written against these, and its unit tests hand in scripted fakes.
 */
import type { Message } from '@platformatic/kafka';

/** The library's stream, as the adapter uses it (tests hand in a fake). */
export interface LibraryStream {
  /** Next offset the stream fetches per `<topic>:<partition>`: past transaction markers too. */
  readonly offsetsToFetch: Map<string, bigint>;
  /** Records buffered in the stream, not yet delivered. */
  readonly readableLength: number;
  on(event: 'data', listener: (m: Message) => void): unknown;
  /** After each fetch response. */
  on(event: 'fetch', listener: () => void): unknown;
  on(event: 'error', listener: (e: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
  close(): Promise<void>;
}

/** The library's consumer, as the adapter uses it. */
export interface LibraryConsumer {
  readonly generationId: number;
  readonly assignments: { topic: string; partitions: number[] }[] | null;
  consume(options: Record<string, unknown>): Promise<LibraryStream>;
  commit(options: {
    offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number }[];
  }): Promise<void>;
  on(
    event: 'consumer:group:join',
    listener: (p: { assignments: { topic: string; partitions: number[] }[] }) => void,
  ): unknown;
  on(event: 'consumer:group:rebalance', listener: () => void): unknown;
  close(force?: boolean): Promise<void>;
}
