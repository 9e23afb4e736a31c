/**
 * The dm12-client plan: every group's cases in order. Each group is one module here.
 */
import type { ConformanceCase } from '../dsl.js';
import { GET_CASES } from './get.js';
import { ALERT_CASES } from './alerts.js';
import { CONTAINER_CASES } from './containers.js';
import { ACL_CASES } from './acl.js';
import { LARGE_OBJECT_CASES } from './large-objects.js';
import { AUTH_CASES } from './auth.js';
import { MO_CASES } from './standard-mos.js';
import { PACKAGE_CASES } from './packages.js';
import { ADD_CASES, COPY_EXEC_CASES, DELETE_CASES, REPLACE_CASES } from './tree-commands.js';

export const DM12_CLIENT: readonly ConformanceCase[] = [
  ...GET_CASES,
  ...REPLACE_CASES,
  ...ADD_CASES,
  ...DELETE_CASES,
  ...COPY_EXEC_CASES,
  ...ALERT_CASES,
  ...CONTAINER_CASES,
  ...LARGE_OBJECT_CASES,
  ...ACL_CASES,
  ...MO_CASES,
  ...PACKAGE_CASES,
  ...AUTH_CASES,
];
