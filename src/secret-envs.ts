// What post needs of the inputs: the names of the environment variables `secret-envs` names, so
// that none of its programs gets their values. Post validates no input, so this never throws and
// errs on the side of more names: every line's value that is a variable name.
import * as core from '@actions/core';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variable names in a `secret-envs` value (`id=NAME` lines); never throws. */
export function secretEnvNames(raw: string = core.getInput('secret-envs')): string[] {
  return raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && l.includes('='))
    .map((l) => l.slice(l.indexOf('=') + 1).trim())
    .filter((n) => ENV_NAME.test(n));
}
