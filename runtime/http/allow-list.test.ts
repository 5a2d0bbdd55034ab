import { parseConfig, defineConfig } from '../config';
import { ConfigError } from '../errors';
import { AllowList, allowHostsField, parseAllowEntry, portOf } from './allow-list';

describe('parseAllowEntry', () => {
  test.each([
    ['feeds.internal', { host: 'feeds.internal', port: undefined }],
    ['Feeds.Internal:8080', { host: 'feeds.internal', port: 8080 }],
    ['127.0.0.1', { host: '127.0.0.1', port: undefined }],
    ['127.0.0.1:18090', { host: '127.0.0.1', port: 18090 }],
    ['[::1]', { host: '::1', port: undefined }],
    ['[0:0::1]:443', { host: '::1', port: 443 }],
    ['localhost', { host: 'localhost', port: undefined }],
  ])('%s -> %j', (raw, entry) => {
    expect(parseAllowEntry(raw)).toEqual(entry);
  });

  test.each([
    ['http://feeds.internal', 'is not host[:port]'],
    ['feeds.internal/path', 'is not a host name'],
    ['::1', 'is not host[:port]'],
    ['[feeds]', 'not an IPv6 address'],
    ['host:0', 'port outside 1-65535'],
    ['host:70000', 'port outside 1-65535'],
    ['-bad-.example', 'is not a host name'],
    ['*.example.com', 'is not a host name'],
    ['', 'is not host[:port]'],
  ])('%s is refused: %s', (raw, why) => {
    expect(parseAllowEntry(raw)).toEqual(expect.stringContaining(why));
  });
});

describe('AllowList', () => {
  const list = new AllowList(['feeds.internal', '127.0.0.1:8080', '[::1]:9000']);
  test.each([
    ['feeds.internal', 80, true],
    ['FEEDS.internal', 12345, true],
    ['127.0.0.1', 8080, true],
    ['127.0.0.1', 8081, false],
    ['[::1]', 9000, true],
    ['::1', 9000, true],
    ['::1', 9001, false],
    ['localhost', 8080, false],
    ['other.internal', 80, false],
  ])('%s:%i -> %s', (host, port, allowed) => {
    expect(list.permits(host, port)).toBe(allowed);
  });

  test('portOf uses the scheme default', () => {
    expect(portOf(new URL('https://a.example/'))).toBe(443);
    expect(portOf(new URL('http://a.example/'))).toBe(80);
    expect(portOf(new URL('http://a.example:81/'))).toBe(81);
  });
});

describe('allowHostsField', () => {
  const spec = defineConfig({ allowHosts: allowHostsField({ description: 'hosts', example: 'a:1' }) });
  test('parses a comma-separated list from the environment', () => {
    expect(parseConfig(spec, { allowHosts: 'a.example, 127.0.0.1:80' }, { where: 'test' }).allowHosts).toEqual([
      'a.example',
      '127.0.0.1:80',
    ]);
    expect(parseConfig(spec, {}, { where: 'test' }).allowHosts).toEqual([]);
  });
  test('a bad entry fails config parsing, naming the entry', () => {
    const parse = () => parseConfig(spec, { allowHosts: 'ok.example,http://x.example' }, { where: 'test' });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow('"http://x.example" is not host[:port]');
  });
});
