#!/usr/bin/env node
// The `dmw` command. The sources are TypeScript; tsx compiles them on load so the checkout runs
// as it is (`npx dmw ...`), with no build step between an edit and a lab script.
import { register } from 'tsx/esm/api';

// `dmw ... | head` closes the pipe early: that is the reader being done, not an error to report.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
