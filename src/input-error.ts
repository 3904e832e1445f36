// The error of an input that cannot be used, in a module of its own: the input parsers (inputs*.ts,
// docker/, cache/, meta/) throw it, and post, which reads no input but secret-envs, need not load them.
import { boundMessage } from './clip.js';

/** An input that cannot be used: one line naming it, quoting at most a short prefix of a value. */
export class InputError extends Error {
  /**
   * @param input the action input at fault (`tags`, `images`, ...); it also prefixes the message.
   * @param message one line describing the fault, quoting the offending entry (bounded: see boundMessage).
   */
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(boundMessage(`${input}: ${message}`));
    this.name = 'InputError';
  }
}

/** Collapses a (possibly multi-line) library message to one line. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
