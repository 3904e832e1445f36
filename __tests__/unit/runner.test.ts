// Tests of the runner emulation (scripts/lib/runner.mjs) against the fixture action in
// __tests__/fixtures/fake-action, whose `mode` input picks what it does.
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  contextFor,
  disposeContext,
  evaluateCondition,
  evaluateTemplate,
  inputEnvName,
  parseCommand,
  parseKeyValueFile,
  refInfo,
  runJob,
  runStep,
  type JobResult,
  type ResolvedContext,
  type StepResult,
} from '../../scripts/lib/runner.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const actionDir = path.resolve(here, '../fixtures/fake-action');
const SECRET = 'fixture-secret-9d8c7b';
const TOKEN = 'ghs_fixturetoken0123456789';

const contexts: ResolvedContext[] = [];
function ctx(extra: Record<string, unknown> = {}): ResolvedContext {
  const c = contextFor({ event: 'push', ref: 'refs/heads/feature/x', repository: 'acme/widget', token: TOKEN, ...extra });
  contexts.push(c);
  return c;
}
afterAll(() => contexts.forEach((c) => disposeContext(c)));

describe('pure helpers', () => {
  test('input env names: upper-cased, spaces to _, dashes kept', () => {
    expect(inputEnvName('cache-key')).toBe('INPUT_CACHE-KEY');
    expect(inputEnvName('extra args')).toBe('INPUT_EXTRA_ARGS');
    expect(inputEnvName('Token')).toBe('INPUT_TOKEN');
  });

  test('ref name and type from the ref', () => {
    expect(refInfo('refs/heads/feature/x')).toEqual({ refName: 'feature/x', refType: 'branch' });
    expect(refInfo('refs/tags/v1')).toEqual({ refName: 'v1', refType: 'tag' });
    expect(refInfo('refs/pull/15/merge')).toEqual({ refName: '15/merge', refType: 'branch' });
  });

  test('file command parsing: name=value, heredoc, empty lines, errors', () => {
    const text = 'a=b=c\n\nm<<EOF\nl1\n\nl3\nEOF\nempty<<X\nX\nlast=1';
    expect(parseKeyValueFile(text)).toEqual({
      pairs: [
        ['a', 'b=c'],
        ['m', 'l1\n\nl3'],
        ['empty', ''],
        ['last', '1'],
      ],
      error: null,
    });
    const bad = parseKeyValueFile('ok=1\nbroken<<EOF\nno end\n');
    expect(bad.pairs).toEqual([['ok', '1']]);
    expect(bad.error).toMatch(/Matching delimiter not found 'EOF'/);
    expect(parseKeyValueFile('no separator\n').error).toMatch(/Invalid format/);
    expect(parseKeyValueFile('<<EOF\nx\nEOF\n').error).toMatch(/Name must not be empty/);
  });

  test('workflow command parsing and unescaping', () => {
    expect(parseCommand('  ::error file=a.ts,line=3,col=5,title=T%3Ax%2Cy%25::multi%0Aline %25 done%0D')).toEqual({
      command: 'error',
      properties: { file: 'a.ts', line: '3', col: '5', title: 'T:x,y%' },
      data: 'multi\nline % done\r',
    });
    expect(parseCommand('::WARNING::upper case name')?.command).toBe('warning');
    expect(parseCommand('::endgroup::')).toEqual({ command: 'endgroup', properties: {}, data: '' });
    expect(parseCommand('::not-a-command::x')).toBeNull();
    expect(parseCommand('text ::error::not at the start')).toBeNull();
    expect(parseCommand('::error missing end')).toBeNull();
    expect(parseCommand('prefix ##[warning]legacy form')).toEqual({ command: 'warning', properties: {}, data: 'legacy form' });
  });

  test('default expressions', () => {
    const scope = { github: { token: 't', ref_name: 'main', head_ref: '', event: { pull_request: { number: 7 } } }, runner: { temp: '/tmp/r' } };
    expect(evaluateTemplate('${{ github.token }}', scope)).toBe('t');
    expect(evaluateTemplate('k-${{ github.ref_name }}-${{runner.temp}}', scope)).toBe('k-main-/tmp/r');
    expect(evaluateTemplate("${{ github.head_ref || 'none' }}", scope)).toBe('none');
    expect(evaluateTemplate('${{ github.event.pull_request.number }}', scope)).toBe('7');
    expect(evaluateTemplate('${{ secrets.X }}', scope)).toBe('');
    expect(evaluateTemplate('${{ toJSON(github) }}', scope)).toBe('');
    expect(evaluateTemplate(undefined, scope)).toBe('');
  });

  test('post-if conditions', () => {
    expect(evaluateCondition('always()', true)).toBe(true);
    expect(evaluateCondition(undefined, true)).toBe(true);
    expect(evaluateCondition('success()', true)).toBe(false);
    expect(evaluateCondition('failure()', true)).toBe(true);
    expect(evaluateCondition('failure()', false)).toBe(false);
  });

  test('contextFor fills defaults and derives from the ref', () => {
    const c = ctx({ event: 'pull_request', ref: 'refs/pull/15/merge', token: undefined });
    expect(c.eventName).toBe('pull_request');
    expect(c.refName).toBe('15/merge');
    expect(c.serverUrl).toBe('https://github.com');
    expect(c.apiUrl).toBe('https://api.github.com');
    expect(c.payload.pull_request.number).toBe(15);
    expect(c.headRef).toBe(c.payload.pull_request.head.ref);
    expect(c.baseRef).toBe('main');
    expect(c.token).toMatch(/^ghs_/);
    expect(existsSync(c.workspace) && existsSync(c.runnerTemp)).toBe(true);
    expect(contextFor(c).workspace).toBe(c.workspace);
    const ghes = contextFor({ serverUrl: 'https://ghe.example.com/', workspace: c.workspace, runnerTemp: c.runnerTemp, toolCache: c.toolCache });
    expect(ghes.apiUrl).toBe('https://ghe.example.com/api/v3');
  });
});

describe('runJob with a passing main', () => {
  let job: JobResult;
  let main: StepResult;
  let c: ResolvedContext;
  let childEnv: Record<string, string>;

  beforeAll(async () => {
    process.env.RUNNER_EMU_LEAK_CHECK = 'must-not-leak';
    process.env.GITHUB_TOKEN = 'must-not-leak-either';
    process.env.EMU_DOCKER_HOST_CHECK = 'unix:///run/elsewhere.sock';
    c = ctx();
    job = await runJob({
      actionDir,
      inputs: { 'extra args': '--flag', bogus: 1 },
      context: c,
      env: { CALLER_VAR: 'from-caller' },
      timeoutMs: 30_000,
    });
    main = job.main;
    childEnv = JSON.parse(main.outputs.env);
  });
  afterAll(() => {
    delete process.env.RUNNER_EMU_LEAK_CHECK;
    delete process.env.GITHUB_TOKEN;
    delete process.env.EMU_DOCKER_HOST_CHECK;
  });

  test('exit codes and conclusions', () => {
    expect(main.exitCode).toBe(0);
    expect(main.conclusion).toBe('success');
    expect(job.mainFailed).toBe(false);
    expect(job.postRan).toBe(true);
    expect(job.post?.exitCode).toBe(0);
    expect(job.conclusion).toBe('success');
    expect(job.postCondition).toBe('always()');
  });

  test('inputs: defaults applied, expressions evaluated, runner env names', () => {
    const inputs = JSON.parse(main.outputs.inputs);
    expect(inputs).toEqual({
      INPUT_TOKEN: TOKEN,
      'INPUT_CACHE-KEY': 'key-feature/x-Linux',
      INPUT_EXTRA_ARGS: '--flag',
      INPUT_HEAD: 'no-head',
      'INPUT_UNKNOWN-CONTEXT': '',
      INPUT_MODE: 'ok',
      'INPUT_SECRET-VALUE': SECRET,
      INPUT_BOGUS: '1',
    });
    expect(main.annotations[0]).toEqual({
      level: 'warning',
      message: expect.stringContaining("Unexpected input(s) 'bogus'"),
    });
  });

  test('GITHUB_* context and environment isolation', () => {
    expect(childEnv).toMatchObject({
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/feature/x',
      GITHUB_REF_NAME: 'feature/x',
      GITHUB_REF_TYPE: 'branch',
      GITHUB_HEAD_REF: '',
      GITHUB_BASE_REF: '',
      GITHUB_REPOSITORY: 'acme/widget',
      GITHUB_REPOSITORY_OWNER: 'acme',
      GITHUB_SHA: c.sha,
      GITHUB_RUN_ID: c.runId,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_API_URL: 'https://api.github.com',
      GITHUB_WORKSPACE: c.workspace,
      GITHUB_ACTIONS: 'true',
      CI: 'true',
      RUNNER_OS: 'Linux',
      RUNNER_TEMP: c.runnerTemp,
      RUNNER_TOOL_CACHE: c.toolCache,
      CALLER_VAR: 'from-caller',
    });
    expect(childEnv.RUNNER_DEBUG).toBeUndefined();
    expect(childEnv.GITHUB_TOKEN).toBeUndefined();
    expect(childEnv.RUNNER_EMU_LEAK_CHECK).toBeUndefined();
    expect(childEnv.NODE_OPTIONS).toBeUndefined();
    // The runner process's own environment reaches the step (DOCKER_HOST and the like), as on GitHub.
    expect(childEnv.EMU_DOCKER_HOST_CHECK).toBe('unix:///run/elsewhere.sock');
    expect(childEnv.PATH).toBe(process.env.PATH);
    expect(main.outputs.cwd).toBe(c.workspace);
    expect(JSON.parse(readFileSync(childEnv.GITHUB_EVENT_PATH, 'utf8'))).toEqual(c.payload);
    for (const f of ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_ENV', 'GITHUB_PATH', 'GITHUB_STEP_SUMMARY']) {
      expect(childEnv[f]).toContain(path.join(c.runnerTemp, '_runner_file_commands'));
    }
  });

  test('outputs, state, env and path files parsed (multi-line too)', () => {
    expect(job.outputs).toBe(main.outputs);
    expect(main.outputs.report).toBe('line one\nline two\n  indented = three');
    expect(main.outputs.simple).toBe('a=b');
    expect(main.state).toEqual({ started: 'yes', multi: 's1\ns2', plain: '1' });
    expect(main.envFile).toEqual({ FROM_MAIN: 'hello', MULTI_ENV: 'e1\ne2' });
    expect(main.paths).toEqual(['/opt/fake-bin']);
  });

  test('state reaches post as STATE_*, GITHUB_ENV and GITHUB_PATH apply to post', () => {
    const post = job.post!;
    expect(JSON.parse(post.outputs.state)).toEqual({ STATE_started: 'yes', STATE_multi: 's1\ns2', STATE_plain: '1' });
    expect(post.outputs['from-main']).toBe('hello');
    expect(post.outputs['multi-env']).toBe('e1\ne2');
    expect(post.outputs.path.split(':')[0]).toBe('/opt/fake-bin');
    expect(post.outputs.mode).toBe('ok'); // post gets the inputs too
  });

  test('masking: value and token never in masked text, from main into post', () => {
    for (const text of [job.log, main.log, main.rawStdout, main.stderr, job.post!.log, JSON.stringify(main.annotations)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(TOKEN);
    }
    expect(main.log).toContain('the secret is ***');
    expect(main.stderr).toContain('stderr has *** too');
    expect(main.rawStdout).toContain('::add-mask::***');
    expect(job.post!.log).toContain('post prints ***');
    expect(main.masks).toBe(1);
    expect(job.post!.masks).toBe(0);
  });

  test('summary is returned raw; summaryMasked is what the runner uploads', () => {
    expect(main.summary).toBe(`## Fake summary\n\nsecret in summary: ${SECRET}\n`);
    expect(main.summaryMasked).toBe('## Fake summary\n\nsecret in summary: ***\n');
  });

  test('annotations parsed with properties, unescaped, file made workspace-relative', () => {
    const own = main.annotations.slice(1);
    expect(own).toEqual([
      { level: 'error', message: 'first line\nsecond line 100%', title: 'Bad: thing, really', file: 'src/app.ts', line: 12, col: 5 },
      { level: 'warning', message: 'careful' },
      { level: 'notice', message: 'a note', file: 'README.md', line: 1 },
    ]);
  });

  test('log: commands resolved to readable lines, debug hidden, unknown commands kept', () => {
    const lines = main.log.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        '[group] Build details',
        'inside the group',
        '[endgroup]',
        'Error: first line',
        'second line 100%',
        'Warning: careful',
        'Notice: a note',
        '::unknown-cmd::stays plain',
      ]),
    );
    expect(lines.indexOf('[group] Build details')).toBeLessThan(lines.indexOf('inside the group'));
    expect(lines.indexOf('inside the group')).toBeLessThan(lines.indexOf('[endgroup]'));
    expect(main.groups).toEqual(['Build details']);
    expect(main.log).not.toContain('debug line');
    expect(main.log).not.toContain('::error');
    expect(job.log).toBe(`${main.log}\n${job.post!.log}`);
  });
});

describe('failures', () => {
  test('post still runs after a failing main, and the result says main failed', async () => {
    const job = await runJob({ actionDir, inputs: { mode: 'fail' }, context: ctx(), timeoutMs: 30_000 });
    expect(job.main.exitCode).toBe(1);
    expect(job.main.conclusion).toBe('failure');
    expect(job.mainFailed).toBe(true);
    expect(job.postRan).toBe(true);
    expect(job.post!.exitCode).toBe(0);
    expect(JSON.parse(job.post!.outputs.state)).toMatchObject({ STATE_started: 'yes' });
    expect(job.main.annotations).toContainEqual({ level: 'error', message: 'main failed on purpose' });
    expect(job.conclusion).toBe('failure');
  });

  test('a malformed file command fails the step though the exit code is 0', async () => {
    const r = await runStep({ actionDir, entry: 'main', inputs: { mode: 'bad-output' }, context: ctx() });
    expect(r.exitCode).toBe(0);
    expect(r.conclusion).toBe('failure');
    expect(r.outputs.report).toBe('line one\nline two\n  indented = three'); // pairs before the error kept
    expect(r.annotations.map((a) => a.message)).toEqual(
      expect.arrayContaining(["Unable to process file command 'output' successfully.", "Invalid value. Matching delimiter not found 'EOF'"]),
    );
  });

  test('timeout ends the process and fails the step', async () => {
    const r = await runStep({ actionDir, entry: 'main', inputs: { mode: 'hang' }, context: ctx(), timeoutMs: 1500 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe('SIGTERM');
    expect(r.conclusion).toBe('failure');
    expect(r.annotations).toContainEqual({ level: 'error', message: 'The action has timed out after 1500 ms.' });
  });

  test('interrupt sends the signal to the entry process when a line shows up, and times its exit', async () => {
    const r = await runStep({
      actionDir,
      entry: 'main',
      inputs: { mode: 'hang' },
      context: ctx(),
      timeoutMs: 60_000,
      interrupt: { when: (l) => l === 'hanging until killed', signal: 'SIGINT' },
    });
    expect(r.timedOut).toBe(false);
    expect(r.signal).toBe('SIGINT');
    expect(r.interruptedMs).not.toBeNull();
    expect(r.interruptedMs!).toBeGreaterThanOrEqual(0);
  });
});

describe('runStep details', () => {
  test('masking is not retroactive: a value printed before add-mask stays visible', async () => {
    const r = await runStep({ actionDir, entry: 'main', inputs: { mode: 'leak-early' }, context: ctx() });
    expect(r.log).toContain(`early: ${SECRET}`);
    expect(r.log).toContain('the secret is ***');
  });

  test('debug: RUNNER_DEBUG=1, ::debug:: kept, commands echoed', async () => {
    const r = await runStep({ actionDir, entry: 'main', context: ctx(), debug: true });
    expect(JSON.parse(r.outputs.env).RUNNER_DEBUG).toBe('1');
    expect(r.log).toContain('[debug] a debug line');
    expect(r.log).toContain('::group::Build details');
    expect(r.log).not.toContain(SECRET);
  });

  test('post on its own: state option becomes STATE_*, jobEnv and prependPath apply, secrets masked', async () => {
    const r = await runStep({
      actionDir,
      entry: 'post',
      context: ctx(),
      state: { started: 'from-caller' },
      jobEnv: { FROM_MAIN: 'given' },
      prependPath: ['/a', '/b'],
      secrets: [SECRET],
    });
    expect(JSON.parse(r.outputs.state)).toEqual({ STATE_started: 'from-caller' });
    expect(r.outputs['from-main']).toBe('given');
    expect(r.outputs.path.split(':').slice(0, 2)).toEqual(['/b', '/a']);
    expect(r.log).toContain('post prints ***');
  });

  test('step env cannot override the context variables, but wins over GITHUB_ENV', async () => {
    const c = ctx();
    const r = await runStep({ actionDir, context: c, env: { GITHUB_SHA: 'nope', FROM_MAIN: 'step' }, jobEnv: { FROM_MAIN: 'job' } });
    const env = JSON.parse(r.outputs.env);
    expect(env.GITHUB_SHA).toBe(c.sha);
    expect(env.FROM_MAIN).toBe('step');
  });

  test('onLog streams masked lines', async () => {
    const seen: string[] = [];
    const r = await runStep({ actionDir, context: ctx(), onLog: (l) => seen.push(l) });
    expect(seen.join('\n')).toBe(r.log);
  });
});
