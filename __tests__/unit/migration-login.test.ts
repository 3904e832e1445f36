// Parity with login-action: `ecr` (auto, true, false) and `scope` planning, and the inputs of
// the four docker actions this action does not have, each named in a message of its own.
import { describe, expect, test } from '@jest/globals';
import { ecrPasswordCommand, isEcrRegistry, parseEcr, parseScope, planEcr, planLogins, scopeConfigDir } from '../../src/docker/login.js';
import { readInputs } from '../../src/inputs.js';
import { InputError } from '../../src/input-error.js';
import { unexpectedInputs, FOREIGN_INPUTS } from '../../src/migration.js';
import { thrown } from './helpers/thrown.js';

const PRIVATE = '123456789012.dkr.ecr.eu-west-3.amazonaws.com';

describe('ecr: which hosts are Amazon ECR', () => {
  test.each<[string, boolean]>([
    [PRIVATE, true],
    ['876820548815.dkr.ecr.cn-north-1.amazonaws.com.cn', true],
    ['123456789012.dkr-ecr.eu-south-1.on.aws', true],
    ['123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu', true],
    ['public.ecr.aws', true],
    ['ecr-public.aws.com', true],
    ['12345.dkr.ecr.eu-west-3.amazonaws.com', false],
    ['ghcr.io', false],
    ['docker.io', false],
    ['registry.gitlab.com', false],
  ])('%s -> %s', (host, want) => expect(isEcrRegistry(host)).toBe(want));
});

describe('ecr: the plan (no AWS needed)', () => {
  test.each<[string, 'auto' | 'true' | 'false', Record<string, string>, ReturnType<typeof planEcr>]>([
    [PRIVATE, 'auto', {}, { public: false, region: 'eu-west-3', accountId: '123456789012' }],
    [PRIVATE, 'true', {}, { public: false, region: 'eu-west-3', accountId: '123456789012' }],
    [PRIVATE, 'false', {}, undefined],
    ['public.ecr.aws', 'auto', { AWS_REGION: 'eu-west-1' }, { public: true, region: 'us-east-1' }],
    ['ghcr.io', 'auto', {}, undefined],
    ['ecr.example.com', 'true', { AWS_REGION: 'ap-south-1' }, { public: false, region: 'ap-south-1' }],
    ['ecr.example.com', 'true', { AWS_DEFAULT_REGION: 'eu-north-1' }, { public: false, region: 'eu-north-1' }],
  ])('%s ecr=%s', (host, mode, env, want) => expect(planEcr(host, mode, env, 'ecr')).toEqual(want));

  test('ecr: true on a host that is not ECR, without a region, is refused naming the input', () => {
    expect(thrown(() => planEcr('ecr.example.com', 'true', {}, 'ecr')).message).toBe(
      'ecr: ecr: true, but "ecr.example.com" is not an Amazon ECR host name and neither AWS_REGION nor AWS_DEFAULT_REGION is set',
    );
  });

  test('the AWS CLI command: region as an argument, never the keys', () => {
    expect(ecrPasswordCommand({ public: false, region: 'eu-west-3' })).toEqual(['ecr', 'get-login-password', '--region', 'eu-west-3']);
    expect(ecrPasswordCommand({ public: true, region: 'us-east-1' })).toEqual(['ecr-public', 'get-login-password', '--region', 'us-east-1']);
  });

  const base = { registry: '', username: '', password: '', registryAuth: [], githubToken: '' };
  test("an ECR registry with no username and password uses the job's AWS credentials", () => {
    const p = planLogins({ ...base, registry: PRIVATE }, [], 'actor', new Set());
    expect(p.logins).toEqual([
      { registry: PRIVATE, username: '', password: '', input: 'registry', ecrTarget: { public: false, region: 'eu-west-3', accountId: '123456789012' } },
    ]);
  });
  test('AWS keys as username and password; ecr: false makes it a plain login', () => {
    const p = planLogins({ ...base, registry: PRIVATE, username: 'AKIA', password: 'secret' }, [], 'actor', new Set());
    expect(p.logins[0].ecrTarget?.region).toBe('eu-west-3');
    const plain = planLogins({ ...base, registry: PRIVATE, username: 'AWS', password: 'token', ecr: 'false' }, [], 'actor', new Set());
    expect(plain.logins[0].ecrTarget).toBeUndefined();
  });
  test('half the AWS keys is refused; a plain registry without credentials is only a note', () => {
    expect(thrown(() => planLogins({ ...base, registry: PRIVATE, username: 'AKIA' }, [], 'a', new Set())).message).toMatch(
      /^password: Amazon ECR login to 123456789012\.dkr\.ecr\.eu-west-3\.amazonaws\.com: give both/,
    );
    expect(planLogins({ ...base, registry: 'ghcr.io' }, [], 'a', new Set()).notes).toEqual([
      'registry is ghcr.io but username and password are empty: no login with them.',
    ]);
  });
  test('registry-auth entries carry their own ecr and scope', () => {
    const p = planLogins(
      {
        ...base,
        registryAuth: [
          { registry: 'public.ecr.aws', username: '', password: '' },
          { registry: 'docker.io', username: 'u', password: 'p', scope: 'acme/app@push' },
        ],
      },
      [],
      'a',
      new Set(),
    );
    expect(p.logins.map((l) => [l.registry, l.ecrTarget?.public, l.scope])).toEqual([
      ['public.ecr.aws', true, undefined],
      ['docker.io', undefined, 'acme/app@push'],
    ]);
  });
  test.each(['auto', 'true', 'false', 'TRUE', ''])('ecr input %j is accepted', (v) => expect(parseEcr(v)).toBe(v ? v.toLowerCase() : 'auto'));
  test('ecr input maybe is refused naming it', () => {
    expect(thrown(() => readInputs((n) => ({ images: 'x/y', push: 'false', ecr: 'maybe' })[n] ?? '', {})).message).toBe(
      'ecr: expected auto, true or false, got "maybe"',
    );
  });
});

describe('scope: where buildx finds scoped credentials', () => {
  test.each<[string, string, string]>([
    ['docker.io', 'acme/app@push', 'config/registry-1.docker.io/acme/app@push'],
    ['docker.io', 'acme/app', 'config/registry-1.docker.io/acme/app'],
    ['ghcr.io', '@pull,push', 'config/ghcr.io@pull,push'],
    ['127.0.0.1:5000', 'e2e/x@push', 'config/127.0.0.1:5000/e2e/x@push'],
  ])('%s %s -> %s', (host, scope, dir) => expect(scopeConfigDir(host, parseScope(scope))).toBe(dir));

  test.each<[string, RegExp]>([
    ['a@b@c', /^scope: "a@b@c" has more than one "@"$/],
    ['acme/app@Push', /^scope: "acme\/app@Push": the actions after "@" are lowercase names/],
    ['../etc', /^scope: "\.\.\/etc" is not a repository path inside the registry/],
    ['/abs', /is not a repository path/],
    ['a//b', /is not a repository path/],
  ])('%j is refused naming scope', (s, re) => {
    const err = thrown(() => parseScope(s));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(re);
  });
});

describe('inputs of the four docker actions that this action does not have', () => {
  const known = new Set(['images', 'tags', 'github-token']);
  test('a value that asks for something this action does not do is an error naming the input', () => {
    expect(unexpectedInputs({ INPUT_LOGOUT: 'false' }, known)).toEqual([
      {
        input: 'logout',
        error: true,
        message:
          "docker/login-action's input is not one of this action's: the post step always logs out and deletes the job's private Docker config, so credentials never outlive the job; remove the input",
      },
    ]);
    expect(unexpectedInputs({ INPUT_VERSION: 'v0.19.3' }, known)[0]).toMatchObject({
      input: 'version',
      error: true,
      message: expect.stringContaining('write buildx-version'),
    });
    expect(unexpectedInputs({ 'INPUT_NO-SUCH': 'x' }, known)).toEqual([
      { input: 'no-such', error: true, message: 'not an input of this action (see the migration guide in the README); remove it' },
    ]);
  });
  test('a value that asks for what this action does anyway is a warning; empty values and known inputs are ignored', () => {
    expect(unexpectedInputs({ INPUT_LOGOUT: 'true', INPUT_CLEANUP: 'TRUE', 'INPUT_BAKE-TARGET': '', INPUT_IMAGES: 'x', PATH: '/bin' }, known)).toEqual([
      expect.objectContaining({ input: 'cleanup', error: false }),
      expect.objectContaining({ input: 'logout', error: false }),
    ]);
  });
  test('readInputs refuses before any work, and passes warnings on', () => {
    const get = (n: string) => ({ images: 'x/y', push: 'false' })[n] ?? '';
    const err = thrown(() => readInputs(get, { INPUT_INSTALL: 'true' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/^install: docker\/setup-buildx-action's input is not one of this action's/);
    expect(readInputs(get, { INPUT_USE: 'true' }).warnings).toEqual([expect.stringMatching(/^use: /)]);
  });
  test('every entry names its action and says what to write', () => {
    for (const [name, f] of Object.entries(FOREIGN_INPUTS)) {
      expect([name, f.from]).toEqual([name, expect.stringMatching(/^docker\/(build-push|setup-buildx|login|metadata)-action$/)]);
      expect(f.instead.length).toBeGreaterThan(10);
    }
  });
});

describe('the new inputs quote at most a short prefix of a bad value', () => {
  const big = 'z'.repeat(100_000);
  test.each<[string, Record<string, string>]>([
    ['ecr', { ecr: big }],
    ['scope', { scope: `a@${big.toUpperCase()}` }],
    ['metadata-context', { 'metadata-context': big }],
    ['registry-auth', { 'registry-auth': `- registry: ${big}!\n  username: a\n  password: b` }],
  ])('%s', (input, extra) => {
    const err = thrown(() => readInputs((n) => ({ images: 'x/y', push: 'false', ...extra })[n] ?? '', {}));
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).input).toBe(input);
    expect(err.message.length).toBeLessThan(400);
  });
});
