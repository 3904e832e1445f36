// Inputs of docker/build-push-action, setup-buildx-action, login-action and metadata-action that
// this action does not declare, and what to write instead. The runner only warns ("Unexpected
// input") about them and runs the step anyway; readInputs turns each one given into a message of
// its own, so that an input never does nothing unseen. Pure data and one pure function.

interface ForeignInput {
  /** The action that has the input. */
  from: string;
  /** Values that ask for what this action does anyway (a warning, not an error). */
  harmless: string[];
  /** What to write here instead, or why there is nothing to write. */
  instead: string;
}

export const FOREIGN_INPUTS: Readonly<Record<string, ForeignInput>> = {
  attests: { from: 'docker/build-push-action', harmless: [], instead: 'use provenance and sbom (each passed to buildx as --provenance / --sbom)' },
  version: {
    from: 'docker/setup-buildx-action',
    harmless: [],
    instead: 'write buildx-version (empty: the installed buildx; latest; or a release such as v0.19.3)',
  },
  install: {
    from: 'docker/setup-buildx-action',
    harmless: ['false'],
    instead: 'this action runs buildx itself and does not make "docker build" an alias of it; remove the input',
  },
  use: { from: 'docker/setup-buildx-action', harmless: ['true', 'false'], instead: 'the builder is used by this step only; remove the input' },
  'cache-binary': {
    from: 'docker/setup-buildx-action',
    harmless: ['true', 'false'],
    instead: 'a downloaded buildx (buildx-version) is kept in the runner tool cache; remove the input',
  },
  cleanup: {
    from: 'docker/setup-buildx-action',
    harmless: ['true'],
    instead: 'write keep-builder: true to keep the builder after the job (the default removes it, as cleanup: true does)',
  },
  config: { from: 'docker/setup-buildx-action', harmless: [], instead: 'write buildkitd-config' },
  'config-inline': { from: 'docker/setup-buildx-action', harmless: [], instead: 'write buildkitd-config-inline' },
  logout: {
    from: 'docker/login-action',
    harmless: ['true'],
    instead: "the post step always logs out and deletes the job's private Docker config, so credentials never outlive the job; remove the input",
  },
  'bake-target': {
    from: 'docker/metadata-action',
    harmless: ['docker-metadata-action'],
    instead: 'this action builds with buildx build, not bake, and writes no bake file; remove the input',
  },
};

export interface Unexpected {
  input: string;
  /** Whether the value asks for something this action does not do (an error) or not (a warning). */
  error: boolean;
  message: string;
}

/**
 * The inputs given to the step (INPUT_* variables, as the runner sets them for every `with:` key,
 * declared or not) that this action does not read. An empty value is ignored.
 */
export function unexpectedInputs(env: Record<string, string | undefined>, known: ReadonlySet<string>): Unexpected[] {
  const out: Unexpected[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('INPUT_') || v === undefined || v.trim() === '') continue;
    const input = k.slice('INPUT_'.length).toLowerCase().replace(/_/g, ' ');
    if (known.has(input)) continue;
    const f = FOREIGN_INPUTS[input];
    if (!f) {
      out.push({ input, error: true, message: 'not an input of this action (see the migration guide in the README); remove it' });
      continue;
    }
    const harmless = f.harmless.includes(v.trim().toLowerCase());
    out.push({ input, error: !harmless, message: `${f.from}'s input is not one of this action's: ${f.instead}` });
  }
  return out.sort((a, b) => a.input.localeCompare(b.input));
}
