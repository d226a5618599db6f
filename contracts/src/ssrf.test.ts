import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { assertSafeUrl, createGuardedLookup, isPublicAddress, parseWebhookUrl, UnsafeUrlError } from './ssrf.ts';

test('public unicast addresses pass, every private/special class is refused', () => {
  for (const ok of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '2a00:1450:4001:81a::200e']) {
    assert.equal(isPublicAddress(ok), true, ok);
  }
  const refused = [
    '127.0.0.1', // loopback
    '127.255.255.254',
    '10.1.2.3', // RFC 1918
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254', // link-local (cloud metadata)
    '100.64.0.1', // CGNAT
    '0.0.0.0', // unspecified
    '224.0.0.1', // multicast
    '255.255.255.255',
    '192.0.2.1', // documentation
    '240.0.0.1',
    '::1',
    '::',
    'fe80::1', // link-local
    'fc00::1', // ULA
    'fd12:3456::1',
    'ff02::1', // multicast
    '::ffff:127.0.0.1', // IPv4-mapped loopback
    '::ffff:10.0.0.1',
    '::ffff:7f00:1', // the same, in hex
    '::127.0.0.1', // IPv4-compatible (deprecated) form
    '64:ff9b::a00:1', // NAT64 of 10.0.0.1
    '2002:7f00:1::1', // 6to4 of 127.0.0.1
    '2001:db8::1', // documentation
    'not-an-ip',
    '',
  ];
  for (const bad of refused) assert.equal(isPublicAddress(bad), false, bad);
});

test('the URL shape: http(s) only, no credentials, odd IPv4 spellings are canonicalised', () => {
  assert.throws(() => parseWebhookUrl('ftp://example.com/'), { reason: 'scheme' });
  assert.throws(() => parseWebhookUrl('javascript:alert(1)'), { reason: 'scheme' });
  assert.throws(() => parseWebhookUrl('file:///etc/passwd'), { reason: 'scheme' });
  assert.throws(() => parseWebhookUrl('not a url'), { reason: 'invalid' });
  assert.throws(() => parseWebhookUrl('https://user:pw@example.com/'), { reason: 'credentials' });
  for (const odd of ['http://0x7f000001/', 'http://2130706433/', 'http://0177.0.0.1/', 'http://127.1/']) {
    assert.equal(parseWebhookUrl(odd).hostname, '127.0.0.1', odd);
  }
});

test('assertSafeUrl refuses literals and names that resolve to private addresses', async () => {
  const opts = { allowPrivateNetworks: false };
  for (const url of [
    'http://127.0.0.1/hook',
    'http://0x7f000001/',
    'http://2130706433/',
    'http://[::1]:8080/',
    'http://[::ffff:127.0.0.1]/',
    'http://10.0.0.5/',
    'http://169.254.169.254/latest/meta-data',
    'http://localhost:3000/',
    'http://LOCALHOST/',
  ]) {
    await assert.rejects(assertSafeUrl(url, opts), (err: unknown) => {
      assert.ok(err instanceof UnsafeUrlError, url);
      assert.equal(err.reason, 'private-address', url);
      return true;
    });
  }
  await assert.rejects(assertSafeUrl('http://no-such-host.invalid/', opts), { reason: 'unresolvable' });
  assert.equal((await assertSafeUrl('https://8.8.8.8/x', opts)).hostname, '8.8.8.8');
});

test('allowPrivateNetworks skips the address check but not the shape check', async () => {
  const opts = { allowPrivateNetworks: true };
  assert.equal((await assertSafeUrl('http://localhost:3000/', opts)).hostname, 'localhost');
  assert.equal((await assertSafeUrl('http://10.0.0.5/', opts)).hostname, '10.0.0.5');
  await assert.rejects(assertSafeUrl('gopher://10.0.0.5/', opts), { reason: 'scheme' });
});

test('the guarded lookup refuses the connection itself when the name resolves privately', async () => {
  const server = http.createServer((_req, res) => res.end('reached'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const get = (allowPrivateNetworks: boolean) =>
    new Promise<string>((resolve, reject) => {
      const req = http.get(
        { host: 'localhost', port, family: 4, lookup: createGuardedLookup({ allowPrivateNetworks }), agent: false },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
    });
  try {
    await assert.rejects(get(false), { name: 'UnsafeUrlError', reason: 'private-address' });
    assert.equal(await get(true), 'reached');
  } finally {
    server.close();
  }
});
