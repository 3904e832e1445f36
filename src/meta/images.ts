// The `images` input: one image per line (or several on a single comma-separated line), each a
// bare name or `name=<name>,enable=<true|false>`. Names are lowercased like metadata-action does.
import { InputError } from '../input-error.js';
import { quoted } from '../clip.js';
import { parseFields } from './fields.js';
import { listEntries } from './list.js';

interface ImageEntry {
  name: string;
  enable: boolean;
}

const INPUT = 'images';

// distribution/reference grammar, lowercase: [domain[:port]/]path-component(/path-component)*
const DOMAIN_COMPONENT = '(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-f0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
export const IMAGE_NAME_RE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const MAX_NAME_LENGTH = 255;

export function parseImages(input: string): ImageEntry[] {
  const entries = listEntries(input, INPUT);
  const images: ImageEntry[] = [];
  // a single line of bare names is the comma-separated list form
  if (entries.length === 1) {
    const fields = parseFields(entries[0].source, INPUT);
    if (fields.every((f) => f.key === undefined)) {
      for (const f of fields) {
        if (f.value !== '') {
          images.push({ name: checkedName(f.value, entries[0].source), enable: true });
        }
      }
      return images;
    }
  }
  for (const entry of entries) {
    images.push(parseImageEntry(entry.source));
  }
  return images;
}

function parseImageEntry(source: string): ImageEntry {
  let name: string | undefined;
  let enable = true;
  for (const f of parseFields(source, INPUT)) {
    if (f.key === undefined || f.key === 'name') {
      if (name !== undefined && f.value !== '') {
        throw new InputError(INPUT, `more than one name in ${quoted(source)} (one image per line)`);
      }
      if (f.value !== '' || f.key === 'name') {
        name = f.value;
      }
    } else if (f.key === 'enable') {
      if (f.value !== 'true' && f.value !== 'false') {
        throw new InputError(INPUT, `invalid enable value ${quoted(f.value)} in ${quoted(source)} (expected true or false)`);
      }
      enable = f.value === 'true';
    } else {
      throw new InputError(INPUT, `unknown attribute ${quoted(f.key)} in ${quoted(source)} (expected name, enable)`);
    }
  }
  if (!name) {
    throw new InputError(INPUT, `empty image name in ${quoted(source)}`);
  }
  return { name: checkedName(name, source), enable };
}

function checkedName(name: string, source: string): string {
  const lower = name.toLowerCase();
  if (lower.length > MAX_NAME_LENGTH || !IMAGE_NAME_RE.test(lower)) {
    const hint = /[@]|:[^/]*$/.test(lower) ? ' (give the name without tag or digest)' : '';
    throw new InputError(INPUT, `invalid image name ${quoted(name)} in ${quoted(source)}${hint}`);
  }
  return lower;
}
