// Registry logins: the registry-auth list, which logins are planned (and the automatic ghcr.io
// one), and keeping credentials out of credential stores.
import { describe, expect, test } from '@jest/globals';
import { configuredRegistries, imageRegistry, isolateCredentials, normalizeRegistry, planLogins, type LoginInputs } from '../../src/docker/login.js';
import { parseRegistryAuth } from '../../src/docker/registry-auth.js';
import { InputError } from '../../src/input-error.js';

const PW = 'p@ss: "word" # not a comment';

describe("registry-auth (docker/login-action's YAML format, parsed as YAML)", () => {
  test('several entries, any indentation, comments, quotes, a Docker Hub entry without registry', () => {
    const raw = [
      '# registries',
      '- registry: ghcr.io',
      '  username: octocat',
      `  password: '${PW}'`,
      '',
      '-   username: "hubuser"   # Docker Hub: no registry',
      "    password: 'tok2'",
      '- registry: 127.0.0.1:5001',
      '  username: ci',
      '  password: "quoted \\"inner\\" #not-a-comment"',
      '- registry: https://index.docker.io/v1/',
      '  username: other',
      '  password: 0123',
      '  scope: acme/app@push',
    ].join('\r\n');
    expect(parseRegistryAuth(raw)).toEqual([
      { registry: 'ghcr.io', username: 'octocat', password: PW },
      { registry: 'docker.io', username: 'hubuser', password: 'tok2' },
      { registry: '127.0.0.1:5001', username: 'ci', password: 'quoted "inner" #not-a-comment' },
      { registry: 'docker.io', username: 'other', password: '0123', scope: 'acme/app@push' },
    ]);
    expect(parseRegistryAuth('')).toEqual([]);
    expect(parseRegistryAuth('[{registry: ghcr.io, username: a, password: b}]')).toEqual([{ registry: 'ghcr.io', username: 'a', password: 'b' }]);
  });

  test("ecr per entry: an ECR entry may leave username and password empty (the job's AWS credentials)", () => {
    expect(parseRegistryAuth('- registry: 123456789012.dkr.ecr.eu-west-3.amazonaws.com\n- registry: public.ecr.aws\n  ecr: true')).toEqual([
      { registry: '123456789012.dkr.ecr.eu-west-3.amazonaws.com', username: '', password: '' },
      { registry: 'public.ecr.aws', username: '', password: '', ecr: 'true' },
    ]);
    expect(() => parseRegistryAuth('- registry: 123456789012.dkr.ecr.eu-west-3.amazonaws.com\n  ecr: false')).toThrow(
      'registry-auth: entry 1 (123456789012.dkr.ecr.eu-west-3.amazonaws.com): no username',
    );
  });

  test.each<[string, string]>([
    [
      'registry: ghcr.io',
      'registry-auth: expected a YAML list of entries, each "- registry: HOST" with username and password (as docker/login-action takes it)',
    ],
    ['- registry: ghcr.io\n  user: x', 'registry-auth: entry 1: unknown key "user" (expected registry, username, password, ecr, scope)'],
    [
      `- registry: ghcr.io\n  username: x\n  ${'s3cret-without-colon'}`,
      "registry-auth: not valid YAML at line 3, column 23: expected ':' after a mapping key (the text is not shown: it may hold a password)",
    ],
    [
      '- registry: ghcr.io\n  username: a\n  username: b',
      'registry-auth: not valid YAML at line 3, column 3: duplicated mapping key (the text is not shown: it may hold a password)',
    ],
    [
      `- registry: ghcr.io\n  username: x\n  password: ${PW}`,
      'registry-auth: not valid YAML at line 3, column 17: bad indentation of a mapping entry (the text is not shown: it may hold a password)',
    ],
    ['- ghcr.io', 'registry-auth: entry 1: expected a map with registry, username and password'],
    ['- registry: [a, b]\n  username: a\n  password: b', 'registry-auth: entry 1: "registry" must be a single value'],
    ['- registry: ghcr.io\n  password: b', 'registry-auth: entry 1 (ghcr.io): no username'],
    ['- registry: ghcr.io\n  username: a\n  password:', 'registry-auth: entry 1 (ghcr.io): no password (is the secret set?)'],
    ['- registry: bad host!\n  username: a\n  password: b', 'registry-auth: entry 1: invalid registry "bad host!"'],
    ['- registry: ghcr.io\n  username: a\n  password: b\n- registry: GHCR.io\n  username: c\n  password: d', 'registry-auth: ghcr.io is listed twice'],
    ['- username: a\n  password: b\n  ecr: maybe', 'registry-auth: entry 1: ecr: expected auto, true or false, got "maybe"'],
    [
      '- username: a\n  password: b\n  scope: ../../etc',
      'registry-auth: entry 1: scope: "../../etc" is not a repository path inside the registry (e.g. acme/app or acme/app@push)',
    ],
  ])('%j', (raw, message) => {
    let err: unknown;
    try {
      parseRegistryAuth(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toContain('s3cret');
    expect((err as Error).message).not.toContain('p@ss');
  });
});

describe('registry hosts', () => {
  test.each([
    ['', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['https://GHCR.io/', 'ghcr.io'],
    ['127.0.0.1:5001', '127.0.0.1:5001'],
  ])('normalize %j', (raw, host) => expect(normalizeRegistry(raw)).toBe(host));

  test.each([
    ['ghcr.io/acme/app', 'ghcr.io'],
    ['acme/app', 'docker.io'],
    ['app', 'docker.io'],
    ['localhost/app', 'localhost'],
    ['127.0.0.1:5000/e2e/app', '127.0.0.1:5000'],
    ['docker.io/library/busybox', 'docker.io'],
  ])('image %s is on %s', (image, host) => expect(imageRegistry(image)).toBe(host));
});

describe('planned logins', () => {
  const none: LoginInputs = { registry: '', username: '', password: '', registryAuth: [], githubToken: '' };
  const creds = { registry: '127.0.0.1:5001', username: 'ci', password: 'pw' };

  test.each<[string, Partial<LoginInputs>, string[], string, string[], [string, string, string][]]>([
    ['nothing to log in to', {}, ['127.0.0.1:5000/app'], 'octocat', [], []],
    ['single inputs, Docker Hub when registry is empty', { username: 'u', password: 'p' }, [], '', [], [['docker.io', 'u', 'registry']]],
    [
      'single inputs and registry-auth together',
      { registry: 'quay.io', username: 'u', password: 'p', registryAuth: [creds] },
      [],
      '',
      [],
      [
        ['quay.io', 'u', 'registry'],
        ['127.0.0.1:5001', 'ci', 'registry-auth'],
      ],
    ],
    ['ghcr.io image: automatic login as the actor', { githubToken: 'ghs_x' }, ['ghcr.io/acme/app'], 'octocat', [], [['ghcr.io', 'octocat', 'github-token']]],
    [
      'ghcr.io image with ghcr.io credentials given: those',
      { githubToken: 'ghs_x', registryAuth: [{ registry: 'ghcr.io', username: 'bot', password: 'pat' }] },
      ['ghcr.io/acme/app'],
      'octocat',
      [],
      [['ghcr.io', 'bot', 'registry-auth']],
    ],
    ['ghcr.io image, already logged in by an earlier step', { githubToken: 'ghs_x' }, ['ghcr.io/acme/app'], 'octocat', ['ghcr.io'], []],
    ['ghcr.io image without a token', {}, ['ghcr.io/acme/app'], 'octocat', [], []],
    ['ghcr.io image without an actor', { githubToken: 'ghs_x' }, ['ghcr.io/acme/app'], '', [], []],
    ['no ghcr.io image: no automatic login', { githubToken: 'ghs_x' }, ['quay.io/acme/app', 'acme/ghcr.io'], 'octocat', [], []],
  ])('%s', (_name, li, images, actor, existing, want) => {
    const plan = planLogins({ ...none, ...li }, images, actor, new Set(existing));
    expect(plan.logins.map((l) => [l.registry, l.username, l.input])).toEqual(want);
    if (want.some(([, , input]) => input === 'github-token')) expect(plan.logins.find((l) => l.input === 'github-token')?.password).toBe('ghs_x');
  });

  test('notes say why no automatic login happened', () => {
    expect(planLogins({ ...none, githubToken: 'ghs_x' }, ['ghcr.io/a/b'], 'octocat', new Set(['ghcr.io'])).notes).toEqual([
      'ghcr.io: using the login already in the Docker config.',
    ]);
    expect(planLogins(none, ['ghcr.io/a/b'], 'octocat', new Set()).notes).toEqual(['ghcr.io: no github-token, so no automatic login.']);
  });

  test.each<[Partial<LoginInputs>, string]>([
    [{ username: 'u' }, 'password: registry login to Docker Hub needs both username and password'],
    [{ registry: 'ghcr.io', password: 'p' }, 'username: registry login to ghcr.io needs both username and password'],
    [
      { registry: '127.0.0.1:5001', username: 'u', password: 'p', registryAuth: [creds] },
      'registry-auth: 127.0.0.1:5001 is also given by the registry/username/password inputs',
    ],
  ])('%j fails', (li, message) => {
    expect(() => planLogins({ ...none, ...li }, [], '', new Set())).toThrow(message);
  });
});

describe('credentials stay in the private config file', () => {
  test('a credential store is bypassed for exactly the registries logged in to', () => {
    const user = JSON.stringify({ auths: { 'quay.io': {} }, credsStore: 'desktop', credHelpers: { 'gcr.io': 'gcloud' } });
    const out = JSON.parse(isolateCredentials(user, ['ghcr.io', 'docker.io']));
    expect(out).toEqual({
      auths: { 'quay.io': {} },
      credsStore: 'desktop',
      credHelpers: { 'gcr.io': 'gcloud', 'ghcr.io': '', 'https://index.docker.io/v1/': '' },
    });
  });

  test('a helper for one of those registries is bypassed too; a plain config is left as it is', () => {
    expect(JSON.parse(isolateCredentials(JSON.stringify({ credHelpers: { 'ghcr.io': 'gh' } }), ['ghcr.io']))).toEqual({ credHelpers: { 'ghcr.io': '' } });
    expect(JSON.parse(isolateCredentials('{"auths":{}}', ['ghcr.io']))).toEqual({ auths: {} });
    expect(JSON.parse(isolateCredentials('not json', ['ghcr.io']))).toEqual({});
  });

  test('registries the config already has credentials for', () => {
    const text = JSON.stringify({ auths: { 'https://index.docker.io/v1/': {}, 'ghcr.io': {} }, credHelpers: { 'gcr.io': 'gcloud', 'x.io': '' } });
    expect([...configuredRegistries(text)].sort()).toEqual(['docker.io', 'gcr.io', 'ghcr.io']);
    expect([...configuredRegistries('garbage')]).toEqual([]);
  });
});
