/**
 * The store owns its types (issue 16): main/store/types.ts and job-settlement.ts declare them, the
 * server re-exports them (one definition each), and main/store imports no server code. DmStore
 * covers every public ServerStore method with the same arguments and (awaited) results. The type
 * checks run in tsc (`npm run typecheck`); the test runner only sees the runtime part.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../main/server/config.js';
import type * as Config from '../../main/server/config.js';
import type * as Server from '../../main/server/types.js';
import * as ServerRules from '../../main/server/unconfirmed.js';
import { JOB_STATUSES as SERVER_JOB_STATUSES, UNCONFIRMED_POLICIES as SERVER_POLICIES, JOB_KINDS, jobTarget as serverJobTarget } from '../../main/server/types.js';
import type { JobDecisionError as ServerJobDecisionError, NewMessage as ServerNewMessage, ServerStore, StoredDevice as ServerStoredDevice } from '../../main/store/server-store.js';
import * as StoreRules from '../../main/store/job-settlement.js';
import type { DmStore, DmStoreOps } from '../../main/store/store.js';
import type * as Store from '../../main/store/types.js';
import { JOB_STATUSES, UNCONFIRMED_POLICIES, jobTarget, type JobSpec, type UnconfirmedDecision } from '../../main/store/types.js';

/** A method's synchronous twin: same parameters, the awaited result. */
type SyncView<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Awaited<R> : T[K] };
/**
 * ServerStore's public members that are not store operations: its SQLite handle, transaction and deferred-index
 * machinery, and the halves of the device writes that SqliteOps gathers into one per message.
 */
type ServerStoreMachinery = 'db' | 'durability' | 'tx' | 'group' | 'groupAsync' | 'flush' | 'close' | 'seeDevice' | 'writeDevice' | 'indexing';
type ServerOperations = Exclude<keyof ServerStore, ServerStoreMachinery>;

describe('the store owns its types', () => {
  it('declares the records exactly as the server does', () => {
    expectTypeOf<Store.JobSpec>().toEqualTypeOf<Server.JobSpec>();
    expectTypeOf<Store.SimpleJobSpec>().toEqualTypeOf<Server.SimpleJobSpec>();
    expectTypeOf<Store.JobKind>().toEqualTypeOf<Server.JobKind>();
    expectTypeOf<Store.JobStatus>().toEqualTypeOf<Server.JobStatus>();
    expectTypeOf<Store.JobRecord>().toEqualTypeOf<Server.JobRecord>();
    expectTypeOf<Store.JobResult>().toEqualTypeOf<Server.JobResult>();
    expectTypeOf<Store.JobMemberStatus>().toEqualTypeOf<Server.JobMemberStatus>();
    expectTypeOf<Store.UnconfirmedPolicy>().toEqualTypeOf<Server.UnconfirmedPolicy>();
    expectTypeOf<Store.UnconfirmedDecision>().toEqualTypeOf<Server.UnconfirmedDecision>();
    expectTypeOf<Store.UiAlertKind>().toEqualTypeOf<Server.UiAlertKind>();
    expectTypeOf<Store.DeviceRecord>().toEqualTypeOf<Server.DeviceRecord>();
    expectTypeOf<Store.DeviceAuthState>().toEqualTypeOf<Server.DeviceAuthState>();
    expectTypeOf<Store.StoredDevice>().toEqualTypeOf<ServerStoredDevice>();
    expectTypeOf<Store.TreeEntry>().toEqualTypeOf<Server.TreeEntry>();
    expectTypeOf<Store.SessionState>().toEqualTypeOf<Server.SessionState>();
    expectTypeOf<Store.SessionRecord>().toEqualTypeOf<Server.SessionRecord>();
    expectTypeOf<Store.Direction>().toEqualTypeOf<Server.Direction>();
    expectTypeOf<Store.MessageRecord>().toEqualTypeOf<Server.MessageRecord>();
    expectTypeOf<Store.NewMessage>().toEqualTypeOf<ServerNewMessage>();
    expectTypeOf<Store.AlertRecord>().toEqualTypeOf<Server.AlertRecord>();
    expectTypeOf<Store.Credential>().toEqualTypeOf<Config.Credential>();
    expectTypeOf<Store.JobDecisionError>().toEqualTypeOf<ServerJobDecisionError>();
    // And the same values.
    expect(JOB_STATUSES).toEqual(SERVER_JOB_STATUSES);
    expect(UNCONFIRMED_POLICIES).toEqual(SERVER_POLICIES);
  });

  it('DmStore has every ServerStore operation, same arguments, same result once awaited', () => {
    // Every public ServerStore operation is in the interface (a new one fails here until it is added).
    expectTypeOf<ServerOperations>().toExtend<keyof DmStoreOps>();
    expectTypeOf<Pick<ServerStore, ServerOperations>>().toEqualTypeOf<Pick<SyncView<DmStoreOps>, ServerOperations>>();
    // And every operation returns a promise (PostgreSQL cannot answer synchronously).
    expectTypeOf<ReturnType<DmStore[keyof DmStoreOps]>>().toExtend<Promise<unknown>>();
    expectTypeOf<ReturnType<DmStore['tx']>>().toExtend<Promise<unknown>>();
  });
});

describe('the server re-exports the store\'s records and rules (one definition each)', () => {
  it('the same values, functions and classes, not copies', async () => {
    const ServerTypes = await import('../../main/server/types.js');
    const StoreTypes = await import('../../main/store/types.js');
    const SqliteServerStore = await import('../../main/store/sqlite/server-store.js');
    expect(ServerTypes.jobTarget).toBe(StoreTypes.jobTarget);
    expect(ServerTypes.JOB_STATUSES).toBe(StoreTypes.JOB_STATUSES);
    expect(ServerTypes.UNCONFIRMED_POLICIES).toBe(StoreTypes.UNCONFIRMED_POLICIES);
    for (const name of ['defaultUnconfirmedPolicy', 'runsExec', 'canVerify', 'resolveUnconfirmedPolicy', 'settleUnanswered', 'decisionRefusal', 'settleDecision', 'unansweredText', 'READ_ONLY_KINDS', 'VERIFIABLE_KINDS'] as const) {
      expect(ServerRules[name], name).toBe(StoreRules[name]);
    }
    expect(SqliteServerStore.JobDecisionError).toBe(StoreTypes.JobDecisionError);
    expect(StoreRules.DEFAULT_MAX_JOB_ATTEMPTS).toBe(DEFAULT_LIMITS.maxJobAttempts);
  });

  it('the store imports no server code', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const path = await import('node:path');
    const root = path.resolve(import.meta.dirname, '../../main/store');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const f = path.join(dir, e.name);
        if (e.isDirectory()) walk(f);
        else if (f.endsWith('.ts') && /from '(\.\.\/)+server\//.test(readFileSync(f, 'utf8'))) offenders.push(path.relative(root, f));
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
