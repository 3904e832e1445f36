// Types for local-run.mjs (`npm run local`): the pure helpers it exports for tests.
/** The event name, ref and payload the runner would have for --event/--ref (throws on a bad ref). */
export function eventFor(event: string, ref?: string): { eventName: string; ref: string; payload: Record<string, any> };
/** The image name: the default under the local registry, or NAME put under it when it has no registry host. */
export function imageFor(name: string | undefined, contextDir: string): string;
