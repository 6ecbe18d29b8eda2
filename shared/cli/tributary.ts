#!/usr/bin/env node
// The `tributary` command. package.json's `bin` points at its compiled form, dist/shared/cli/tributary.js
// (`npm run build`; docs/decisions.md, "Shipping compiled JavaScript"). main.ts loads only the subcommand run.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
