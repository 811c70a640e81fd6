import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { it } from 'node:test';
import { clientAddress } from '../../src/server/client-address.js';
import { loadServerConfig } from '../../src/server/config.js';

/** The address per-address limits count: a client cannot choose it by writing X-Forwarded-For. */

const req = (peer: string, forwarded?: string) =>
  ({
    socket: { remoteAddress: peer },
    connection: { remoteAddress: peer },
    headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
  }) as unknown as IncomingMessage;

it('without a trusted proxy the socket peer is the client, whatever the header says', () => {
  const of = clientAddress({});
  assert.equal(of(req('203.0.113.5', '198.51.100.1')), '203.0.113.5');
});

it('behind a trusted proxy the client is the address that proxy reported, not the leftmost entry', () => {
  const of = clientAddress({ trusted: ['172.28.0.10'] });
  // The client wrote "6.6.6.6" itself; the proxy appended the address it saw.
  assert.equal(of(req('172.28.0.10', '6.6.6.6, 198.51.100.7')), '198.51.100.7');
  assert.equal(of(req('172.28.0.10', '198.51.100.7')), '198.51.100.7');
  // Straight to the node, past the proxy: the header is not believed.
  assert.equal(of(req('198.51.100.9', '6.6.6.6')), '198.51.100.9');
});

it('ERI_TRUST_PROXY trusts one hop: the rightmost entry, never the spoofable leftmost', () => {
  const of = clientAddress({ trustPeer: true });
  assert.equal(of(req('10.0.0.2', '6.6.6.6, 198.51.100.7')), '198.51.100.7');
});

it('ERI_TRUSTED_PROXIES takes addresses and ranges, and refuses anything else', () => {
  const config = loadServerConfig({ ERI_INSECURE_DEV: '1', ERI_TRUSTED_PROXIES: '10.0.0.0/8, 172.28.0.10' });
  assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '172.28.0.10']);
  assert.throws(
    () => loadServerConfig({ ERI_INSECURE_DEV: '1', ERI_TRUSTED_PROXIES: 'not-an-address' }),
    /ERI_TRUSTED_PROXIES/,
  );
});
