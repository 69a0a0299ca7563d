// Child-process entry of the S3 test peer (run under `node --openssl-legacy-provider`: s3rver's
// continuation tokens use DES). Argument: a JSON options object. Prints {"port":N} once listening;
// exits when its stdin closes, so a crashed test run never leaves it behind.
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- s3rver is CommonJS and this file runs outside tsx
const S3rver = require('@20minutes/s3rver');

const opts = JSON.parse(process.argv[2] ?? '{}');
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  vhostBuckets: false,
  resetOnClose: true,
  directory: opts.directory,
  configureBuckets: (opts.buckets ?? []).map((name) => ({ name })),
});
server.run().then(
  ({ port }) => process.stdout.write(JSON.stringify({ port }) + '\n'),
  (err) => {
    process.stderr.write(`s3rver failed to start: ${err.message}\n`);
    process.exit(1);
  },
);
process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
process.stdin.resume();
