import { boundMessage, quoted } from '../clip.js';

/** A user-supplied input (images, tags, flavor, labels, annotations) cannot be used as written. */
export class MetaInputError extends Error {
  /**
   * @param input the action input at fault (`tags`, `images`, ...); it also prefixes the message.
   * @param message one line describing the fault, quoting the offending entry (bounded: see boundMessage).
   */
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(boundMessage(`${input}: ${message}`));
    this.name = 'MetaInputError';
  }
}

/** Collapses a (possibly multi-line) library message to one line. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** Quotes an entry as written, for error messages: at most a short prefix of it (see clip.ts). */
export function quote(s: string): string {
  return quoted(s);
}
