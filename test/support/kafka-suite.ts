/**
 * For one integration test file (or one describe block): a Kafka client and an admin, connected before its tests
 * and disconnected after, and a scratch directory made before and removed after. Jest-only (it registers
 * beforeAll/afterAll), hence its own module: the benchmarks load streams.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { testKafka } from './streams';
import type { KafkaAdmin, KafkaClient } from '../../runtime/kafka-client';

export interface ConnectedKafka {
  readonly kafka: KafkaClient;
  readonly admin: KafkaAdmin;
}

export function connectedKafka(clientId?: string): ConnectedKafka {
  let kafka: KafkaClient | undefined;
  let admin: KafkaAdmin | undefined;
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

/** A fresh directory under the OS temp dir (`prefix` names the test), removed with all it holds after the tests. */
export function scratchDir(prefix: string): { readonly path: string } {
  let path: string | undefined;
  beforeAll(() => {
    path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (path !== undefined) rmSync(path, { recursive: true, force: true });
  });
  return {
    get path() {
      if (path === undefined) throw new Error('scratchDir: used before beforeAll ran');
      return path;
    },
  };
}
