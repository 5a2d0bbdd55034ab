/**
 * The murmur2 both adapters place keys with: Apache Kafka's own vectors (UtilsTest.testMurmur2, one per tail
 * length), and the same partition as kafkajs's default partitioner for many keys, so records keyed before and
 * after a client switch land on the same partition.
 */
import { Partitioners } from 'kafkajs';
import { murmur2, partitionForKey } from './murmur2';

test.each<[string | Buffer, number]>([
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  [Buffer.from('abc'), 479470107],
  ['', 275646681],
])('murmur2(%j) is the Java client hash %d', (key, hash) => {
  expect(murmur2(key)).toBe(hash);
});

test('a string key hashes as its UTF-8 bytes', () => {
  expect(murmur2('Montréal-42')).toBe(murmur2(Buffer.from('Montréal-42', 'utf8')));
});

test('every key lands where kafkajs puts it, for every partition count the pipeline uses', () => {
  const keys: (string | Buffer)[] = [];
  for (let i = 0; i < 500; i++)
    keys.push(
      `listing-${i}-${'x'.repeat(i % 7)}`,
      Buffer.from(Array.from({ length: i % 40 }, (_, j) => (i * 31 + j * 17) & 0xff)),
    );
  const kafkajs = Partitioners.DefaultPartitioner();
  const mismatches = [];
  for (const count of [1, 3, 6, 12, 50]) {
    const partitionMetadata = Array.from({ length: count }, (_, i) => ({
      partitionId: i,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    for (const key of keys) {
      const theirs = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
      if (partitionForKey(key, count) !== theirs) mismatches.push({ key, count });
    }
  }
  expect(mismatches).toEqual([]);
});
