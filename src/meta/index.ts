// Tag, label and annotation planning compatible with docker/metadata-action: the same inputs on
// the same run give the same tags, labels, annotations and version. Pure: no I/O, no globals.
import type { Context } from '../context.js';
import { InputError } from '../input-error.js';
import { parseFlavor } from './flavor.js';
import { parseImages } from './images.js';
import { splitLiteralRefs } from './literal.js';
import { mergeKeyValues, ociDefaults, parseLabelLines, toRecord } from './labels.js';
import { parseTagRules } from './rules.js';
import { resolveRun } from './run.js';
import type { RunOptions } from './run.js';
import { globalRenderer } from './scope.js';
import { checkTagNames, evaluateRules, tagNamesOf } from './tags.js';

export interface MetaInput {
  images: string;
  tags: string;
  flavor: string;
  labels: string;
  annotations: string;
}

export interface MetaFacts extends RunOptions {
  /** DOCKER_METADATA_ANNOTATIONS_LEVELS split on commas (default ['manifest']). */
  annotationLevels?: string[];
}

interface MetaJson {
  tags: string[];
  'tag-names': string[];
  labels: Record<string, string>;
  annotations: string[];
}

export interface MetaResult {
  /** metadata-action's `version` output ('' when no tag was produced). */
  version: string;
  /** Full refs `image:tag` for every enabled image (tag names alone when there are no images). */
  tags: string[];
  /** The tag names alone. */
  tagNames: string[];
  /** `key=value` lines, sorted by key. */
  labels: string[];
  /** `<level>:key=value` lines. */
  annotations: string[];
  /** metadata-action's `json` output. */
  json: MetaJson;
  /** The enabled image names, lowercased, and the names of the full references in `tags`. */
  images: string[];
  /** What metadata-action would log as warnings (rules that matched nothing usable). */
  warnings: string[];
}

const DEFAULT_ANNOTATION_LEVELS = ['manifest'];

export function planMeta(input: MetaInput, ctx: Context, facts: MetaFacts): MetaResult {
  const images = parseImages(input.images);
  // Full image references (build-push-action's form) are taken as they are, beside the rules.
  const literal = splitLiteralRefs(input.tags);
  const rules = literal.refs.length > 0 && literal.rules.trim() === '' ? [] : parseTagRules(literal.rules);
  const flavor = parseFlavor(input.flavor);
  const labelLines = parseLabelLines(input.labels, 'labels');
  const annotationLines = parseLabelLines(input.annotations, 'annotations');
  const levels = annotationLevelsOf(facts.annotationLevels);
  if (facts.shortShaLength !== undefined && !(Number.isInteger(facts.shortShaLength) && facts.shortShaLength > 0)) {
    throw new InputError('DOCKER_METADATA_SHORT_SHA_LENGTH', `not a positive whole number: ${facts.shortShaLength}`);
  }

  const run = resolveRun(ctx, facts);
  const renderGlobal = globalRenderer(run);
  const warnings: string[] = [];
  const version = evaluateRules(rules, flavor, run, renderGlobal, warnings);

  const imageNames = images.filter((i) => i.enable).map((i) => i.name);
  const ruleTagNames = tagNamesOf(version, flavor);
  checkTagNames(ruleTagNames);
  if (literal.refs.length > 0 && imageNames.length === 0 && ruleTagNames.length > 0) {
    throw new InputError(
      'tags',
      `the rules give the tag ${ruleTagNames[0]}, but images is empty, so it has no image name: set images, or write every tag as a full reference (name:tag)`,
    );
  }
  const ruleTags = imageNames.length > 0 ? imageNames.flatMap((image) => ruleTagNames.map((t) => `${image}:${t}`)) : [...ruleTagNames];
  // Rule tags exactly as metadata-action lists them (duplicates included); full references after them.
  const tags = [...ruleTags, ...unique(literal.refs.map((r) => `${r.name}:${r.tag}`)).filter((t) => !ruleTags.includes(t))];
  const tagNames = [...ruleTagNames, ...unique(literal.refs.map((r) => r.tag)).filter((t) => !ruleTagNames.includes(t))];
  const allImages = unique([...imageNames, ...literal.refs.map((r) => r.name)]);

  // Without a rule that produced a tag, the first full reference's tag is the version.
  const versionText = version.main ?? literal.refs[0]?.tag ?? '';
  const labels = mergeKeyValues(ociDefaults(run, versionText), labelLines, renderGlobal, 'labels');
  const annotationPairs = mergeKeyValues(ociDefaults(run, versionText), annotationLines, renderGlobal, 'annotations');
  const annotations = levels.flatMap((level) => annotationPairs.map((a) => `${level}:${a}`));

  return {
    version: versionText,
    tags,
    tagNames,
    labels,
    annotations,
    json: { tags, 'tag-names': tagNames, labels: toRecord(labels), annotations },
    images: allImages,
    warnings,
  };
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function annotationLevelsOf(levels: string[] | undefined): string[] {
  if (levels === undefined || levels.length === 0) {
    return DEFAULT_ANNOTATION_LEVELS;
  }
  return levels;
}
