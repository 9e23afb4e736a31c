/** Every check, by rule id: the catalogue (catalogue.ts) says what each one means and where from. */
import { alertChecks } from './alerts.js';
import { authChecks } from './auth.js';
import { commandChecks } from './commands.js';
import { containerChecks } from './containers.js';
import { headerChecks } from './header.js';
import { largeObjectChecks } from './large-objects.js';
import { metaChecks } from './meta.js';
import { packageChecks } from './packages.js';
import { resultsChecks } from './results.js';
import type { Checks } from './rule.js';
import { statusChecks } from './status.js';
import { uriChecks } from './uri.js';

export const CHECKS: Checks = {
  ...headerChecks,
  ...commandChecks,
  ...statusChecks,
  ...resultsChecks,
  ...packageChecks,
  ...alertChecks,
  ...largeObjectChecks,
  ...authChecks,
  ...metaChecks,
  ...uriChecks,
  ...containerChecks,
};
