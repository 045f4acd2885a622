import test from 'ava';
import { familyOf, formatIpv4, formatIpv6, formatMac, parseIp, parseIpv4, parseIpv6, parseMac } from './addr.ts';

test('IPv4 text round trip and errors', (t) => {
  t.deepEqual([...parseIpv4('198.18.0.1')], [198, 18, 0, 1]);
  t.is(formatIpv4(parseIpv4('198.19.255.254')), '198.19.255.254');
  t.throws(() => parseIpv4('198.18.0'), { message: /four decimal octets/ });
  t.throws(() => parseIpv4('198.18.0.256'), { message: /octet '256'/ });
  t.throws(() => parseIpv4('198.18.x.1'), { message: /octet 'x'/ });
});

test('IPv6 text round trip in RFC 5952 form', (t) => {
  const cases: Array<[string, string]> = [
    ['fd00::1', 'fd00::1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fd00:1:0:0:1:0:0:1', 'fd00:1::1:0:0:1'],
    ['fd00:0:1:0:0:0:1:0', 'fd00:0:1::1:0'],
    ['fd00:1:2:3:4:5:6:7', 'fd00:1:2:3:4:5:6:7'],
    ['fd00:1:2:3:4:5:0:7', 'fd00:1:2:3:4:5:0:7'],
    ['::ffff:198.18.0.1', '::ffff:c612:1'],
    ['fd00:1:2:3:4:5:198.18.0.1', 'fd00:1:2:3:4:5:c612:1'],
  ];
  for (const [input, want] of cases) t.is(formatIpv6(parseIpv6(input)), want, input);
  t.deepEqual([...parseIpv6('fd00::1')], [0xfd, 0, ...new Array<number>(13).fill(0), 1]);
});

test('IPv6 errors say what is wrong', (t) => {
  t.throws(() => parseIpv6('fd00::1::2'), { message: /more than once/ });
  t.throws(() => parseIpv6('fd00:1:2:3'), { message: /4 groups instead of 8/ });
  t.throws(() => parseIpv6('fd00::12345'), { message: /'12345' is not 1-4 hex digits/ });
  t.throws(() => parseIpv6('1:2:3:4:5:6:7::8'), { message: /too many groups/ });
});

test('MAC and family helpers', (t) => {
  t.is(formatMac(parseMac('02:00:0A:ff:00:01')), '02:00:0a:ff:00:01');
  t.is(formatMac(parseMac('02-00-00-00-00-09')), '02:00:00:00:00:09');
  t.throws(() => parseMac('02:00:00:00:00'), { message: /six hex bytes/ });
  t.is(familyOf('fd00::1'), 6);
  t.is(familyOf('198.18.0.1'), 4);
  t.is(parseIp('fd00::1').length, 16);
  t.is(parseIp('198.18.0.1').length, 4);
});
