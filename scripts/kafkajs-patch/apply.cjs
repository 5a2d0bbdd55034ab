#!/usr/bin/env node
/**
 * postinstall: replaces kafkajs's read_committed filter of aborted transactions with Listflow's fixed copy
 * (./filterAbortedMessages.js says what is wrong with the original). kafkajs has had no release since 2023, so
 * the version is pinned and checked: on any other version this stops the install, and whoever upgrades decides
 * whether the fix is still needed. Idempotent; the runtime refuses to start on an unpatched copy
 * (runtime/kafka-client/kafkajs-patch.ts), so an install with --ignore-scripts fails loudly instead of reading aborted records.
 */
const { copyFileSync, readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const EXPECTED_VERSION = '2.2.4';
let pkg;
try {
  pkg = require.resolve('kafkajs/package.json', { paths: [join(__dirname, '..', '..')] });
} catch {
  process.exit(0); // kafkajs not installed (yet): nothing to patch.
}
const version = JSON.parse(readFileSync(pkg, 'utf8')).version;
if (version !== EXPECTED_VERSION) {
  console.error(
    `listflow: kafkajs ${version} is installed, but scripts/kafkajs-patch/ fixes ${EXPECTED_VERSION}. ` +
      'Check whether src/consumer/filterAbortedMessages.js still moves only one aborted transaction per record, ' +
      'then update EXPECTED_VERSION (or drop the patch).',
  );
  process.exit(1);
}
const target = join(dirname(pkg), 'src', 'consumer', 'filterAbortedMessages.js');
copyFileSync(join(__dirname, 'filterAbortedMessages.js'), target);
