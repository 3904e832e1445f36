// What differs between action.yml's inputs and the reusable workflow (docker-build.yml): its
// on.workflow_call inputs and secrets, and the `with:` of its step that runs the action. Each
// problem is one line that names the input and says what to write, so that an input added to
// action.yml and not to the workflow fails with exactly that.

/** The deliberate differences, and why. Everything else must match action.yml exactly. */
export const DELIBERATE = {
  /** Workflow-only inputs: the job's runner. */
  workflowOnly: ['runs-on'],
  /**
   * Credentials are workflow secrets, never inputs (inputs show in the run's logs and API): the
   * secret name, and the expression the step passes to the action input.
   */
  secrets: {
    password: { secret: 'password', with: '${{ secrets.password }}' },
    'registry-auth': { secret: 'registry-auth', with: '${{ secrets.registry-auth }}' },
    // `secrets` is the action's input; a workflow secret named so would read oddly at the call site.
    secrets: { secret: 'build-secrets', with: '${{ secrets.build-secrets }}' },
    // The action's default is the job's token; a caller may pass another one as a secret.
    'github-token': { secret: 'github-token', with: '${{ secrets.github-token || github.token }}' },
  } as Record<string, { secret: string; with: string }>,
};

interface InputSpec {
  description?: string;
  default?: unknown;
  required?: boolean | string;
  type?: string;
}

/**
 * The problems, one line each (empty when the workflow matches): an action input missing from
 * the workflow or passed differently, a default that differs, a required flag the action does not
 * have, a boolean input whose action default is not true/false, and workflow inputs, secrets or
 * `with:` keys the action does not have.
 */
export function reusableWorkflowDrift(
  actionInputs: Record<string, InputSpec | null>,
  call: { inputs?: Record<string, InputSpec>; secrets?: Record<string, unknown> },
  step: { with?: Record<string, unknown> },
): string[] {
  const out: string[] = [];
  const inputs = call.inputs ?? {};
  const secrets = call.secrets ?? {};
  const withs = step.with ?? {};
  for (const [name, spec] of Object.entries(actionInputs)) {
    const def = String(spec?.default ?? '');
    const cred = DELIBERATE.secrets[name];
    const expected = cred ? cred.with : `\${{ inputs.${name} }}`;
    if (cred) {
      if (!(cred.secret in secrets))
        out.push(`action.yml input "${name}" is a credential: docker-build.yml needs the secret "${cred.secret}" under on.workflow_call.secrets`);
    } else if (!(name in inputs)) {
      out.push(
        `action.yml input "${name}" (default "${def}") is missing from docker-build.yml: add it under on.workflow_call.inputs with default '${def}', and "${name}: \${{ inputs.${name} }}" to the action step's with:`,
      );
      continue;
    } else {
      const w = inputs[name];
      const wDef = w.default === undefined ? '' : String(w.default);
      if (wDef !== def) out.push(`docker-build.yml input "${name}" has default "${wDef}", action.yml has "${def}"`);
      if (w.required && !spec?.required) out.push(`docker-build.yml input "${name}" is required, action.yml's is not`);
      if (w.type === 'boolean' && def !== 'true' && def !== 'false')
        out.push(`docker-build.yml input "${name}" is a boolean, but action.yml's default "${def}" is not true or false`);
    }
    if (withs[name] === undefined) out.push(`docker-build.yml does not pass "${name}" to the action: add "${name}: ${expected}" to the step's with:`);
    else if (String(withs[name]) !== expected) out.push(`docker-build.yml passes ${name}: ${String(withs[name])}, expected ${expected}`);
  }
  for (const name of Object.keys(inputs)) {
    if (!(name in actionInputs) && !DELIBERATE.workflowOnly.includes(name)) out.push(`docker-build.yml input "${name}" is not an input of action.yml`);
  }
  const credSecrets = new Set(Object.values(DELIBERATE.secrets).map((c) => c.secret));
  for (const name of Object.keys(secrets)) if (!credSecrets.has(name)) out.push(`docker-build.yml secret "${name}" feeds no action input`);
  for (const name of Object.keys(withs)) if (!(name in actionInputs)) out.push(`docker-build.yml passes "${name}", which is not an input of action.yml`);
  return out;
}
