#!/usr/bin/env node
// The `tributary` command. TypeScript sources run through tsx's loader, so the package ships no build step
// (docs/decisions.md: "Running TypeScript without a build").
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
