#!/usr/bin/env node
// Runs the TypeScript sources through tsx's loader, so `npx mailtrail` works in a
// checkout right after `npm install`, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/apps/cli/main.ts');
