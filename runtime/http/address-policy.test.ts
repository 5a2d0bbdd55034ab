import { checkAddress, describeRule } from './address-policy';

describe('checkAddress', () => {
  test.each([
    // IPv4
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.1.1', 'linkLocal'],
    ['169.254.169.254', 'cloudMetadata'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['fd00:ec2::254', 'cloudMetadata'],
    ['ff02::1', 'multicast'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['100::1', 'discard'],
    ['2001:db8::1', 'reserved'],
    // IPv6 forms that embed an IPv4 address: refused whatever they embed
    ['::ffff:127.0.0.1', 'ipv4Mapped'],
    ['::ffff:7f00:1', 'ipv4Mapped'],
    ['::ffff:169.254.169.254', 'ipv4Mapped'],
    ['::ffff:8.8.8.8', 'ipv4Mapped'],
    ['::127.0.0.1', 'ipv4Compatible'],
    ['::8.8.8.8', 'ipv4Compatible'],
    ['::ffff:0:10.0.0.1', 'rfc6145'],
    ['2002:7f00:1::1', '6to4'],
    ['2002:0808:0808::1', '6to4'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['64:ff9b::8.8.8.8', 'rfc6052'],
    ['64:ff9b:1::a00:1', 'rfc6052'],
    // not addresses
    ['localhost', 'notAnAddress'],
    ['2130706433', 'notAnAddress'],
    ['127.1', 'notAnAddress'],
    ['', 'notAnAddress'],
  ])('%s is refused as %s', (address, rule) => {
    expect(checkAddress(address)).toMatchObject({ allowed: false, rule });
  });

  test.each([
    '8.8.8.8',
    '93.184.215.14',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
  ])('%s is public unicast', (address) => {
    expect(checkAddress(address)).toEqual({ allowed: true, address, rule: 'publicUnicast' });
  });

  test('the address is reported in its normal form', () => {
    expect(checkAddress('0:0:0:0:0:0:0:1').address).toBe('::1');
    expect(checkAddress('FD00:EC2:0::254').rule).toBe('cloudMetadata');
  });

  test('every rule reads as words', () => {
    expect(describeRule('rfc6052')).toBe('a NAT64 address');
    expect(describeRule('amt')).toBe('a special-purpose address (amt)');
  });
});
