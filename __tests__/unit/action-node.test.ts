// Which Node runs the action in the e2e tests and npm run local (scripts/lib/action-node.mjs).
import { actionNode, runtimeMajor, NODE24_BIN } from '../../scripts/lib/action-node.mjs';
import { existsSync } from 'node:fs';

test('runs.using names the Node major', () => {
  expect([runtimeMajor('node24'), runtimeMajor('node20'), runtimeMajor('composite'), runtimeMajor(undefined)]).toEqual([24, 20, undefined, undefined]);
});

test('node24: the installed Node 24, not the Node that runs the tests', () => {
  if (!existsSync(NODE24_BIN)) return; // npm ci installs it; without it actionNode says how (below)
  const n = actionNode('node24', {});
  expect(n).toEqual({ bin: NODE24_BIN, version: expect.stringMatching(/^v24\./), overridden: false });
});

test('OBC_ACTION_NODE overrides it, and must run', () => {
  expect(actionNode('node24', { OBC_ACTION_NODE: process.execPath })).toEqual({ bin: process.execPath, version: process.version, overridden: true });
  expect(() => actionNode('node24', { OBC_ACTION_NODE: '/nonexistent/node' })).toThrow(/OBC_ACTION_NODE=\/nonexistent\/node does not run/);
});

test('another runtime has no Node installed for it: set OBC_ACTION_NODE', () => {
  expect(() => actionNode('node20', {})).toThrow(/runs\.using is "node20".*OBC_ACTION_NODE/);
});
