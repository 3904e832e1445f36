// Types for action-docs.mjs: README tables generated from action.yml.
export interface ActionYaml {
  name?: string;
  description?: string;
  author?: string;
  branding?: { icon?: string; color?: string };
  inputs?: Record<string, { description?: string; required?: boolean | string; default?: unknown; deprecationMessage?: string } | null>;
  outputs?: Record<string, { description?: string } | null>;
  runs?: Record<string, unknown>;
  [key: string]: unknown;
}
export const MARKERS: { inputs: [string, string]; outputs: [string, string] };
export function loadActionYaml(file: string): ActionYaml;
export function cell(text: unknown): string;
export function renderInputsTable(action: ActionYaml): string;
export function renderOutputsTable(action: ActionYaml): string;
/** Throws when a marker pair is missing. */
export function updateReadme(readme: string, action: ActionYaml): string;
export function tableNames(readme: string, which: 'inputs' | 'outputs'): string[];
