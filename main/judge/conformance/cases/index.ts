/**
 * The dm12-client plan: every group's cases in order. Each group is one module here.
 */
import type { ConformanceCase } from '../dsl.js';
import { GET_CASES } from './get.js';
import { ADD_CASES, COPY_EXEC_CASES, DELETE_CASES, REPLACE_CASES } from './tree-commands.js';

export const DM12_CLIENT: readonly ConformanceCase[] = [
  ...GET_CASES,
  ...REPLACE_CASES,
  ...ADD_CASES,
  ...DELETE_CASES,
  ...COPY_EXEC_CASES,
];
