/**
 * The Kafka client seam (types.ts) and the one place an adapter is chosen: LISTFLOW_KAFKA_CLIENT, read by
 * runtime/kafka.ts createKafka. Everything above imports from here, never from a client library.
 */
import { kafkajsClient } from './kafkajs';
import { platformaticClient } from './platformatic';
import type { ClientConfig, KafkaClient, KafkaClientKind } from './types';

export * from './types';

export function openKafkaClient(kind: KafkaClientKind, config: ClientConfig): KafkaClient {
  switch (kind) {
    case 'kafkajs':
      return kafkajsClient(config);
    case 'platformatic':
      return platformaticClient(config);
  }
}
