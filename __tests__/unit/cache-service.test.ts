import { classifyLine, demoteCacheErrors, mapLimit, withTimeout } from '../../src/cache/service.js';

describe('classifyLine: what @actions/cache says about a call', () => {
  const rows: [string, ReturnType<typeof classifyLine>][] = [
    ["::warning::You've hit a rate limit, your rate limit will reset in 42 seconds", { kind: 'rate-limit', retryAfterMs: 42_000 }],
    ['::warning::Failed to save: Rate limited: Failed request: (429) Too Many Requests', { kind: 'rate-limit', retryAfterMs: 0 }],
    ['::error::Failed to restore: Cache service responded with 503', { kind: 'fault', shown: true, message: 'Cache service responded with 503' }],
    ['::warning::Failed to save: Unable to upload', { kind: 'fault', shown: true, message: 'Unable to upload' }],
    ['Attempt 1 of 5 failed with error: Failed request: (503) Service Unavailable. Retrying request in 3000 ms...', { kind: 'fault', shown: false }],
    // A refused reservation names the key: the service holds it or another job is creating it.
    ['Failed to save: Unable to reserve cache with key k, another job may be creating this cache.', { kind: 'taken', key: 'k' }],
    ['Failed to save: Unable to reserve cache with key obc1-blob-sha256-ab, x, another job may be creating this cache.', { kind: 'taken', key: 'obc1-blob-sha256-ab, x' }],
    ['::warning::Failed to save: Unable to reserve cache with key k. More details: cache write denied: read-only', { kind: 'fault', shown: true, message: 'Unable to reserve cache with key k. More details: cache write denied: read-only' }],
    ['Cache restored successfully', undefined],
  ];
  test.each(rows)('%s', (line, expected) => expect(classifyLine(line)).toEqual(expected));
});

test('a cache-service error annotation becomes a warning; other errors stay', () => {
  const text = '::error::Failed to save: boom\n::error::Dockerfile:3 bad\n';
  expect(demoteCacheErrors(text)).toBe('::warning::Layer cache: failed to save: boom\n::error::Dockerfile:3 bad\n');
});

test('withTimeout rejects a call that never answers, naming it', async () => {
  await expect(withTimeout(new Promise(() => undefined), 10, 'restore of k')).rejects.toThrow('restore of k took longer than 0s');
  await expect(withTimeout(Promise.resolve(5), 1000, 'x')).resolves.toBe(5);
});

test('mapLimit keeps order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
    running++;
    peak = Math.max(peak, running);
    await Promise.resolve();
    await Promise.resolve();
    running--;
    return x * 2;
  });
  expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
  expect(peak).toBe(3);
});
