// The README's `npm run local -- --event ... --ref ... --image ...` options: the event, ref and
// payload the runner emulation gets, and where the image goes.
import { eventFor, imageFor } from '../../scripts/local-run.mjs';

describe('eventFor', () => {
  test.each<[string, string | undefined, string, string]>([
    ['push', undefined, 'push', 'refs/heads/main'],
    ['push', 'feature/login', 'push', 'refs/heads/feature/login'],
    ['push', 'refs/heads/dev', 'push', 'refs/heads/dev'],
    ['tag', undefined, 'push', 'refs/tags/v1.0.0'],
    ['tag', 'v1.2.3', 'push', 'refs/tags/v1.2.3'],
    ['tag', 'refs/tags/v2.0.0-rc.1', 'push', 'refs/tags/v2.0.0-rc.1'],
    ['pull_request', undefined, 'pull_request', 'refs/pull/1/merge'],
    ['pull_request', '42', 'pull_request', 'refs/pull/42/merge'],
    ['pull_request_target', 'refs/pull/7/head', 'pull_request_target', 'refs/pull/7/head'],
    ['workflow_dispatch', 'release/1.x', 'workflow_dispatch', 'refs/heads/release/1.x'],
  ])('--event %s --ref %s -> %s %s', (event, ref, name, full) => {
    const e = eventFor(event, ref);
    expect([e.eventName, e.ref]).toEqual([name, full]);
    expect(e.payload.repository.default_branch).toBe('main');
  });

  test('a pull request payload carries the number, head and base', () => {
    const e = eventFor('pull_request', '42');
    expect(e.payload.number).toBe(42);
    expect(e.payload.pull_request).toMatchObject({ number: 42, base: { ref: 'main' } });
  });

  test.each([
    ['tag', 'refs/heads/main', /a tag event needs refs\/tags/],
    ['pull_request', 'feature', /a pull request needs a number/],
  ])('--event %s --ref %s is refused', (event, ref, re) => {
    expect(() => eventFor(event, ref)).toThrow(re);
  });
});

describe('imageFor', () => {
  test.each<[string | undefined, string, string]>([
    [undefined, '/repo/example', '127.0.0.1:5000/local/example'],
    [undefined, '/x/My App', '127.0.0.1:5000/local/my-app'],
    ['local/myapp', '/repo/example', '127.0.0.1:5000/local/myapp'],
    ['myapp', '/repo/example', '127.0.0.1:5000/myapp'],
    ['localhost:5000/a/b', '/repo/example', 'localhost:5000/a/b'],
    ['127.0.0.1:5000/e2e/x', '/repo/example', '127.0.0.1:5000/e2e/x'],
    ['ghcr.io/acme/app', '/repo/example', 'ghcr.io/acme/app'],
  ])('--image %s (context %s) -> %s', (name, ctx, want) => {
    expect(imageFor(name, ctx)).toBe(want);
  });
});

describe('the README documents every option of npm run local', () => {
  test("each option parseArgs accepts has a row in the README's table", async () => {
    const { readFileSync } = await import('node:fs');
    const src = readFileSync(new URL('../../scripts/local-run.mjs', import.meta.url), 'utf8');
    const block = src.slice(src.indexOf('options: {'), src.indexOf('},\n    }));'));
    const names = [...block.matchAll(/^\s+'?([a-z][a-z-]*)'?: \{ type:/gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['event', 'ref', 'file', 'state-dir', 'no-setup', 'keep-temp', 'help']));
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = names.filter((n) => !new RegExp(`^\\| \`(?:-[a-z], )?--${n}\\b`, 'm').test(readme.replace(/`-h`, `--help`/, '`--help`')));
    expect(missing).toEqual([]);
  });
});
