/**
 * Apache Kafka 4.1 as one KRaft node (broker and controller in one JVM) on 127.0.0.1.
 * Jars come from Maven Central through infra/kafka/pom.xml (cached under <home>/cache and ~/.m2).
 * Ready means a metadata request answers, not a log line.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openKafkaClient } from '../runtime/kafka-client';
import { infraSourceDir, type PlatformLayout } from './layout';
import { ensureMavenJars, mustRun, type ProcessRecord, spawnDetached, waitForService } from './processes';

export const KAFKA_VERSION = '4.1.1';

function paths(l: PlatformLayout) {
  const dir = join(l.home, 'kafka');
  return {
    libs: join(l.cache, `kafka-${KAFKA_VERSION}`, 'libs'),
    dir,
    data: join(dir, 'data'),
    serverProperties: join(dir, 'server.properties'),
    log4j: join(dir, 'log4j2.properties'),
    log: join(l.logs, 'kafka.log'),
  };
}

export async function requireJava(): Promise<void> {
  await mustRun('Checking Java (needed to run Kafka and Apicurio)', 'java', ['-version']).catch((err: Error) => {
    throw new Error(`${err.message}\nInstall a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless).`);
  });
}

/** Fetches the broker's jars once; later runs reuse the cache. */
export function ensureKafkaJars(l: PlatformLayout, say: (msg: string) => void): Promise<string> {
  return ensureMavenJars({
    what: `Kafka ${KAFKA_VERSION}`,
    pom: join(infraSourceDir, 'kafka', 'pom.xml'),
    libs: paths(l).libs,
    say,
  });
}

function serverProperties(l: PlatformLayout, data: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${l.kafkaControllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${l.kafkaPort},CONTROLLER://127.0.0.1:${l.kafkaControllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${l.kafkaPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${data}`,
    // One node: every internal topic must have replication factor 1, or consumers loop on
    // "group coordinator not available".
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // Topics come from the pipeline (`listflow topics apply`), never from a typo in a producer.
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'log.segment.bytes=67108864',
    'log.retention.check.interval.ms=60000',
    '',
  ].join('\n');
}

const LOG4J2 = `# Kafka's own logs, readable, in the file infra up points at.
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;

export async function startKafka(l: PlatformLayout, say: (msg: string) => void): Promise<ProcessRecord> {
  const p = paths(l);
  const libs = await ensureKafkaJars(l, say);
  mkdirSync(p.data, { recursive: true });
  mkdirSync(l.logs, { recursive: true });
  writeFileSync(p.serverProperties, serverProperties(l, p.data));
  writeFileSync(p.log4j, LOG4J2);
  const cp = `${libs}/*`;
  const javaLog = [`-Dlog4j2.configurationFile=${p.log4j}`];
  if (!existsSync(join(p.data, 'meta.properties'))) {
    const clusterId =
      (
        await mustRun('Creating a Kafka cluster id', 'java', [
          '-cp',
          cp,
          ...javaLog,
          'kafka.tools.StorageTool',
          'random-uuid',
        ])
      )
        .trim()
        .split('\n')
        .pop() ?? '';
    await mustRun('Formatting Kafka storage', 'java', [
      '-cp',
      cp,
      ...javaLog,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      p.serverProperties,
      '--ignore-formatted',
    ]);
  }
  return spawnDetached(l.run, {
    name: 'kafka',
    command: 'java',
    args: [
      '-Xms256m',
      '-Xmx768m',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      ...javaLog,
      '-cp',
      cp,
      'kafka.Kafka',
      p.serverProperties,
    ],
    cwd: p.dir,
    log: p.log,
    marker: p.serverProperties,
  });
}

/** A real metadata request: the broker answers and its controller has elected itself. */
export async function kafkaAnswers(l: PlatformLayout): Promise<boolean> {
  // Always through kafkajs: the platform's check must not depend on the client a worker is set to use.
  const admin = openKafkaClient('kafkajs', {
    clientId: 'listflow-infra',
    brokers: [`127.0.0.1:${l.kafkaPort}`],
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.listTopics();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export function waitForKafka(l: PlatformLayout, record: ProcessRecord | undefined): Promise<number> {
  return waitForService(`Kafka on 127.0.0.1:${l.kafkaPort}`, () => kafkaAnswers(l), {
    timeoutMs: 120_000,
    record,
    log: paths(l).log,
  });
}
