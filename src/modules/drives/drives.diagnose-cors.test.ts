/** The CORS step: informational unless direct-to-bucket uploads are on; then a warning with the rules to paste. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corsStep } from './drives.diagnose-cors.ts';

const ORIGIN = 'https://strongroom.example.test';

test('without direct uploads the step is a skip that says what the rules allow', () => {
  assert.deepEqual(corsStep('s3', { cors: [{ origins: [ORIGIN] }] } as never, ORIGIN, false), {
    status: 'skip',
    reason: `informational: the console uploads through Strongroom, not straight to the bucket; the rules allow ${ORIGIN}`,
  });
  assert.match(corsStep('s3', { cors: [] } as never, ORIGIN, false).reason, /do not allow https:\/\/strongroom/);
  assert.match(corsStep('s3', {}, undefined, false).reason, /could not be read/);
  assert.match(corsStep('gcs', { cors: [] } as never, undefined, false).reason, /no public URL/);
  assert.equal(corsStep('local', {}, ORIGIN, false).status, 'skip');
});

test('with direct uploads a missing rule warns, offers the rules, and the hint names no API field', () => {
  const missing = corsStep('s3', { cors: [] } as never, ORIGIN, true);
  assert.equal(missing.status, 'warn');
  assert.ok(JSON.stringify(missing.suggestion).includes(ORIGIN));
  assert.doesNotMatch(missing.hint!, /corsSuggestion|[a-z][A-Z]/);
  assert.equal(corsStep('azure', { cors: [{ origins: ['*'] }] } as never, ORIGIN, true).status, 'pass');
  assert.match(corsStep('s3', {}, undefined, true).hint!, /STRONGROOM_PUBLIC_URL/);
});
