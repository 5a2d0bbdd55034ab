/**
 * For one integration test file: a Kafka client and an admin, connected before its tests and disconnected
 * after. Jest-only (it registers beforeAll/afterAll), hence its own module: the benchmarks load streams.ts.
 */
import { afterAll, beforeAll } from '@jest/globals';
import type { Admin, Kafka } from 'kafkajs';
import { testKafka } from './streams';

export interface ConnectedKafka {
  readonly kafka: Kafka;
  readonly admin: Admin;
}

export function connectedKafka(clientId?: string): ConnectedKafka {
  let kafka: Kafka | undefined;
  let admin: Admin | undefined;
  beforeAll(async () => {
    kafka = testKafka(clientId);
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('connectedKafka: used before beforeAll ran');
    return v;
  };
  return {
    get kafka() {
      return ready(kafka);
    },
    get admin() {
      return ready(admin);
    },
  };
}
