// Types for action-node.mjs: the Node binary that runs the action in the e2e tests and local run.
export const NODE24_PREFIX: string;
export const NODE24_BIN: string;
export function runtimeMajor(using: string | undefined): number | undefined;
export function nodeVersion(bin: string): string | undefined;
export function actionNode(using: string, env?: Record<string, string | undefined>): { bin: string; version: string; overridden: boolean };
export function installNode24(): number;
