import type { DmwApi } from '../../main/api/contract.js';

/** An API whose every channel rejects unless the test gives it an answer. */
export function fakeApi(over: Partial<Record<keyof DmwApi, (input: never) => unknown>> = {}): DmwApi {
  return new Proxy({} as DmwApi, {
    get: (_t, name: string) => {
      const fn = (over as Record<string, (i: unknown) => unknown>)[name];
      return async (input: unknown) => {
        if (!fn) throw new Error(`${name} not faked`);
        return fn(input);
      };
    },
  });
}
