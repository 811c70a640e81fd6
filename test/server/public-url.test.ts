import assert from 'node:assert/strict';
import { it } from 'node:test';
import { mediasoupSkip, startServer } from '../server-harness.js';

it('listening on every interface without ERI_PUBLIC_URL, the node announces an address clients can reach', {
  skip: mediasoupSkip(),
}, async () => {
  const t = await startServer({ host: '0.0.0.0' });
  try {
    assert.doesNotMatch(t.server.publicUrl, /0\.0\.0\.0/);
    assert.match(t.server.publicUrl, /^http:\/\/\d+\.\d+\.\d+\.\d+:\d+$/);
    assert.ok(
      t.logs.some((l) => /ERI_PUBLIC_URL is not set/.test(l)),
      'the log says to set it',
    );
  } finally {
    await t.stop();
  }
});
