#!/usr/bin/env node
// The `dmw` command. The sources are TypeScript; tsx compiles them on load so the checkout runs
// as it is (`npx dmw ...`), with no build step between an edit and a lab script.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
