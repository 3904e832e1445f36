// Secret sources, the private directory, and the build-arg credential warning.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { jest } from '@jest/globals';
import {
  checkSecretSources,
  createSecretDir,
  credentialBuildArgWarnings,
  looksLikeCredential,
  materializeSecrets,
  readSecretValues,
  removeSecretDir,
  secretDirPath,
} from '../../src/secrets.js';
import { InputError } from '../../src/input-error.js';
import type { Secret } from '../../src/inputs.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-unit-secrets-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('checkSecretSources', () => {
  test('a missing file names secret-files, the id and the path', async () => {
    const s: Secret[] = [{ id: 'f', source: { kind: 'file', path: path.join(tmp, 'nope') } }];
    await expect(checkSecretSources(s, {})).rejects.toThrow(
      new InputError('secret-files', `secret "f": file ${path.join(tmp, 'nope')} does not exist or cannot be read`),
    );
  });
  test('a directory is not a secret file', async () => {
    const s: Secret[] = [{ id: 'f', source: { kind: 'file', path: tmp } }];
    await expect(checkSecretSources(s, {})).rejects.toThrow(/^secret-files: secret "f": .* is not a regular file$/);
  });
  test('an unset variable names secret-envs; an empty one is fine', async () => {
    const s: Secret[] = [{ id: 'e', source: { kind: 'env', name: 'OBC_UNSET_VAR' } }];
    await expect(checkSecretSources(s, {})).rejects.toThrow('secret-envs: secret "e": environment variable OBC_UNSET_VAR is not set');
    await expect(checkSecretSources(s, { OBC_UNSET_VAR: '' })).resolves.toBeUndefined();
  });
});

describe('the private directory and the secret files', () => {
  test('0700 directory, 0600 byte-exact files, env secrets by name only, removed afterwards', async () => {
    const dir = secretDirPath(tmp);
    expect(path.dirname(dir)).toBe(tmp);
    await expect(fs.stat(dir)).rejects.toThrow();
    await createSecretDir(dir);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    const value = ' a "b" = c \nline2\n';
    const specs = await materializeSecrets(
      [
        { id: 'v', source: { kind: 'value', value } },
        { id: 'f', source: { kind: 'file', path: 'rel/file' } },
        { id: 'e', source: { kind: 'env', name: 'TOKEN_VAR' } },
      ],
      dir,
    );
    expect(specs).toEqual([`id=v,src=${path.join(dir, 's0')}`, `id=f,src=${path.resolve('rel/file')}`, 'id=e,env=TOKEN_VAR']);
    expect(await fs.readFile(path.join(dir, 's0'), 'utf8')).toBe(value);
    expect((await fs.stat(path.join(dir, 's0'))).mode & 0o777).toBe(0o600);
    for (const s of specs) expect(s).not.toContain('a "b"');
    await removeSecretDir(dir);
    await expect(fs.stat(dir)).rejects.toThrow();
    await removeSecretDir(dir);
  });

  test('readSecretValues reads values, files and variables as bytes', async () => {
    const f = path.join(tmp, 'file-secret');
    await fs.writeFile(f, Buffer.from([0x00, 0xff, 0x41, 0x0a]));
    const v = await readSecretValues(
      [
        { id: 'v', source: { kind: 'value', value: 'é\n' } },
        { id: 'f', source: { kind: 'file', path: f } },
        { id: 'e', source: { kind: 'env', name: 'X' } },
      ],
      { X: 'from-env' },
    );
    expect(v.map((s) => [s.id, s.value.toString('hex')])).toEqual([
      ['v', Buffer.from('é\n').toString('hex')],
      ['f', '00ff410a'],
      ['e', Buffer.from('from-env').toString('hex')],
    ]);
  });
});

describe('build-args that look like credentials', () => {
  const flagged = [
    'NPM_TOKEN',
    'GITHUB_TOKEN',
    'TOKEN',
    'DB_PASSWORD',
    'dbPassword',
    'PASSWD',
    'MYSQLPASSWORD',
    'API_KEY',
    'apiKey',
    'APIKEY',
    'AWS_SECRET_ACCESS_KEY',
    'CLIENT_SECRET',
    'SECRET',
    'KEY',
    'PRIVATE_KEY',
    'SSH_KEY',
    'GH_PAT',
    'NPMTOKEN',
    'REGISTRY_CREDENTIALS',
    'GPG_PASSPHRASE',
  ];
  const clean = [
    'MONKEY',
    'KEYBOARD_LAYOUT',
    'TOKENIZER_VERSION',
    'NODE_VERSION',
    'PUBLIC_KEY',
    'CACHE_KEY',
    'AWS_ACCESS_KEY_ID',
    'SECRET_NAME',
    'PASSWORD_FILE',
    'TOKEN_URL',
    'DONKEY_COUNT',
    'TURKEY',
    'BASE_IMAGE',
    'SORT_KEY',
    'PATH',
    'PATCH_LEVEL',
    'KEYS_DIR',
  ];
  test.each(flagged)('%s is flagged', (k) => expect(looksLikeCredential(k)).toBe(true));
  test.each(clean)('%s is not flagged', (k) => expect(looksLikeCredential(k)).toBe(false));

  test('the warning names the key and points to secrets, never the value', () => {
    // The value is masked (::add-mask:: on stdout): captured here, not left for a runner to act on.
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
    let w: string[];
    try {
      w = credentialBuildArgWarnings([
        { key: 'NPM_TOKEN', value: 'npm_abcdefghijkl' },
        { key: 'VERSION', value: '1' },
      ]);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('')).toContain('::add-mask::npm_abcdefghijkl');
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^build-args: "NPM_TOKEN" looks like a credential\. .*secrets/);
    expect(w[0]).not.toContain('npm_abcdefghijkl');
  });
});
