// The `flavor` input: `latest=auto|true|false`, `prefix=<s>[,onlatest=<bool>]`,
// `suffix=<s>[,onlatest=<bool>]`, one or more per line.
import { InputError } from '../input-error.js';
import { quoted } from '../clip.js';
import { parseFields } from './fields.js';
import { listEntries } from './list.js';
import { checkTemplate } from './placeholders.js';

type LatestMode = 'auto' | 'true' | 'false';

export interface Flavor {
  latest: LatestMode;
  prefix: string;
  prefixLatest: boolean;
  suffix: string;
  suffixLatest: boolean;
}

const INPUT = 'flavor';
const LATEST_MODES: readonly string[] = ['auto', 'true', 'false'];

export function parseFlavor(input: string): Flavor {
  const flavor: Flavor = { latest: 'auto', prefix: '', prefixLatest: false, suffix: '', suffixLatest: false };
  for (const { source } of listEntries(input, INPUT)) {
    const entry = quoted(source);
    // `onlatest` applies to the prefix or suffix before it on the same line
    let onLatestFor: 'prefix' | 'suffix' | undefined;
    for (const f of parseFields(source, INPUT)) {
      if (f.key === undefined) {
        throw new InputError(INPUT, `expected key=value, got ${quoted(f.value)} in ${entry}`);
      }
      switch (f.key) {
        case 'latest':
          if (!LATEST_MODES.includes(f.value)) {
            throw new InputError(INPUT, `invalid latest ${quoted(f.value)} in ${entry} (expected auto, true or false)`);
          }
          flavor.latest = f.value as LatestMode;
          break;
        case 'prefix':
        case 'suffix': {
          const problem = checkTemplate(f.value, 'global');
          if (problem) {
            throw new InputError(INPUT, `${problem} in ${entry}`);
          }
          flavor[f.key] = f.value;
          onLatestFor = f.key;
          break;
        }
        case 'onlatest':
          if (f.value !== 'true' && f.value !== 'false') {
            throw new InputError(INPUT, `invalid onlatest ${quoted(f.value)} in ${entry} (expected true or false)`);
          }
          if (onLatestFor === undefined) {
            throw new InputError(INPUT, `onlatest must follow prefix= or suffix= in ${entry}`);
          }
          flavor[onLatestFor === 'prefix' ? 'prefixLatest' : 'suffixLatest'] = f.value === 'true';
          break;
        default:
          throw new InputError(INPUT, `unknown attribute ${quoted(f.key)} in ${entry} (expected latest, prefix, suffix, onlatest)`);
      }
    }
  }
  return flavor;
}
