/**
 * The dm12-client plan: every group's cases in order. Each group is one module here.
 */
import type { ConformanceCase } from '../dsl.js';
import { GET_CASES } from './get.js';

export const DM12_CLIENT: readonly ConformanceCase[] = [
  ...GET_CASES,
];
