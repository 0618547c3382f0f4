#!/usr/bin/env node
// Entry point of the plumm-scim command: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
process.env.PLUMM_SCIM_BIN = '1';
await import('../src/cli/index.ts');
