// Where secrets may go. Child environments (secret-envs variables only for buildx build),
// the fork decision (no push, no login), and the build mode (build, check, then push).
import { childEnv, withholdEnv } from '../../src/exec.js';
import { decide, forkOf } from '../../src/plan.js';
import { buildMode } from '../../src/build-mode.js';
import type { ModeFacts } from '../../src/build-mode.js';
import { readInputs } from '../../src/inputs.js';
import type { Context } from '../../src/context.js';
import { testContext } from './helpers/context.js';

describe('child environments', () => {
  test('withheld variables and INPUT_* reach no child; buildx build gets the withheld ones back', () => {
    const env: NodeJS.ProcessEnv = {
      PATH: '/bin',
      OBC_T_SECRET: 'env-secret-value',
      OBC_T_OTHER: 'fine',
      INPUT_SECRETS: 'a=inline-secret',
      INPUT_PASSWORD: 'pw',
      'INPUT_GITHUB-TOKEN': 'ghs_x',
      INPUT_IMAGES: 'x/y',
    };
    withholdEnv(['OBC_T_SECRET', 'OBC_T_NOT_SET'], env);
    // Gone from this process's environment, so children that libraries start do not inherit it.
    expect(Object.keys(env).sort()).toEqual(['INPUT_IMAGES', 'OBC_T_OTHER', 'PATH']);
    // Even a caller that passes the variable explicitly does not hand it on.
    expect(childEnv({ ...env, OBC_T_SECRET: 'env-secret-value' })).toEqual({ PATH: '/bin', OBC_T_OTHER: 'fine' });
    expect(childEnv(env, true)).toEqual({ PATH: '/bin', OBC_T_OTHER: 'fine', OBC_T_SECRET: 'env-secret-value' });
  });
});

// A pull request's context (ref refs/pull/7/merge); the event name and payload vary.
const ctx = (eventName: string, payload: Record<string, any>): Context =>
  testContext({ eventName, sha: 'a'.repeat(40), ref: 'refs/pull/7/merge', refName: '7/merge', headRef: 'x', baseRef: 'main', payload });
const pr = (head: Record<string, any> | undefined, base: Record<string, any> | undefined) => ({ pull_request: { head: { repo: head }, base: { repo: base } } });

describe('forkOf', () => {
  const rows: [string, string, Record<string, any>, string | undefined][] = [
    ['head.repo.fork true', 'pull_request', pr({ full_name: 'mallory/app', fork: true }, { full_name: 'acme/app' }), 'mallory/app'],
    ['different full names', 'pull_request', pr({ full_name: 'mallory/app', fork: false }, { full_name: 'acme/app' }), 'mallory/app'],
    ['fork flag without a name', 'pull_request', pr({ fork: true }, { full_name: 'acme/app' }), 'a fork'],
    ['same repository', 'pull_request', pr({ full_name: 'acme/app', fork: false }, { full_name: 'acme/app' }), undefined],
    ['no head repo in the payload', 'pull_request', pr(undefined, { full_name: 'acme/app' }), undefined],
    [
      'pull_request_target runs in the base repository',
      'pull_request_target',
      pr({ full_name: 'mallory/app', fork: true }, { full_name: 'acme/app' }),
      undefined,
    ],
    ['push', 'push', {}, undefined],
  ];
  test.each(rows)('%s', (_n, ev, payload, want) => expect(forkOf(ctx(ev, payload))).toBe(want));

  test('a fork never pushes, even with push: true, and makes no login', () => {
    const inputs = readInputs((n) => ({ images: 'x/y', push: 'true', username: 'u' })[n] ?? '');
    const d = decide(inputs, ctx('pull_request', pr({ full_name: 'mallory/app', fork: true }, { full_name: 'acme/app' })), ['x/y']);
    expect(d.push).toBe(false);
    expect(d.pushReason).toBe(
      'pull request from the fork mallory/app: it gets no secrets and no write token, so nothing is pushed and no registry login is made',
    );
    expect(d.skipLogin).toBe(d.pushReason);
    const same = decide(inputs, ctx('pull_request', pr({ full_name: 'acme/app' }, { full_name: 'acme/app' })), ['x/y']);
    expect(same).toEqual({ push: true, pushReason: 'push: true', saveCache: false, saveReason: 'cache-save: auto only reads the cache on pull requests' });
  });
});

describe('buildMode', () => {
  const base: ModeFacts = { guard: true, needles: 2, push: true, tags: 2, cacheSaved: true, driver: 'docker' };
  const rows: [string, Partial<ModeFacts>, ReturnType<typeof buildMode>][] = [
    [
      'push with the docker driver: load under a name of its own, check, tag, docker push',
      {},
      { scan: true, staged: 'load-then-push', localName: true, layout: false, deferExports: false },
    ],
    [
      'push with docker-container: OCI layout, check, cached rebuild with push',
      { driver: 'docker-container' },
      { scan: true, staged: 'layout-then-rebuild', localName: false, layout: true, deferExports: false },
    ],
    ['no push, cache saved: check the cache export only', { push: false }, { scan: true, staged: 'no', localName: true, layout: false, deferExports: false }],
    ['nothing leaves: no check', { push: false, cacheSaved: false }, { scan: false, staged: 'no', localName: true, layout: false, deferExports: false }],
    [
      'docker driver, nothing to look for: still its own name, then tag and push (no clash on the daemon)',
      { needles: 0 },
      { scan: false, staged: 'load-then-push', localName: true, layout: false, deferExports: false },
    ],
    [
      'docker-container, nothing to look for: plain build',
      { needles: 0, driver: 'docker-container' },
      { scan: false, staged: 'no', localName: false, layout: false, deferExports: false },
    ],
    [
      'secret-scan: false, docker-container: plain build',
      { guard: false, driver: 'docker-container' },
      { scan: false, staged: 'no', localName: false, layout: false, deferExports: false },
    ],
    [
      'push without tags: nothing to push by tag, check the cache',
      { tags: 0 },
      { scan: true, staged: 'no', localName: false, layout: false, deferExports: false },
    ],
  ];
  test.each(rows)('%s', (_n, over, want) => expect(buildMode({ ...base, ...over })).toEqual(want));
});
