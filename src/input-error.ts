// The error of an input that cannot be used, in a module of its own: the parsers in docker/ and
// cache/ throw it, and post, which reads no input but secret-envs, need not load the input parsers.
import { boundMessage } from './clip.js';

/** An input that cannot be used: one line naming it, quoting at most a short prefix of a value. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(boundMessage(`${input}: ${message}`));
  }
}
