/**
 * The store owns its types (issue 16). Until the switch-over, main/store/types.ts declares them
 * beside main/server/types.ts; these checks keep the two identical, keep DmStore covering every
 * public ServerStore method with the same arguments and (awaited) results, and keep the store's copy
 * of the unconfirmed-job rules answering exactly as the server's. The type checks run in tsc
 * (`npm run typecheck`); the test runner only sees the runtime part.
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
/** ServerStore's public members that are not store operations: its SQLite handle and transaction machinery. */
type ServerStoreMachinery = 'db' | 'durability' | 'tx' | 'group' | 'groupAsync' | 'flush' | 'close';
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

describe("the store's unconfirmed-job rules are the server's", () => {
  const kinds = JOB_KINDS;
  const specOf = (kind: Store.JobKind): JobSpec => {
    switch (kind) {
      case 'atomic':
      case 'sequence':
        return { kind, commands: [{ kind: 'replace', uri: './A', value: '1' }, { kind: 'exec', uri: './B' }] };
      case 'alert':
        return { kind, alert: 'display', text: 'hi' };
      case 'copy':
        return { kind, uri: './A', source: './B' };
      case 'replace':
      case 'add':
        return { kind, uri: './A', value: 'v' };
      default:
        return { kind, uri: './A' } as JobSpec;
    }
  };

  it('gives the same answers for every kind, policy, attempt count, status and decision', () => {
    let cases = 0;
    for (const kind of kinds) {
      const spec = specOf(kind);
      expect(jobTarget(spec)).toBe(serverJobTarget(spec));
      expect(StoreRules.defaultUnconfirmedPolicy(spec)).toBe(ServerRules.defaultUnconfirmedPolicy(spec));
      expect(StoreRules.runsExec(spec)).toBe(ServerRules.runsExec(spec));
      for (const given of [undefined, null, 'nonsense', 7, ...UNCONFIRMED_POLICIES]) {
        const outcome = (f: () => unknown) => { try { return { ok: f() }; } catch (e) { return { threw: (e as Error).message }; } };
        expect(outcome(() => StoreRules.resolveUnconfirmedPolicy(spec, given))).toEqual(outcome(() => ServerRules.resolveUnconfirmedPolicy(spec, given)));
        cases++;
      }
      for (const onUnconfirmed of UNCONFIRMED_POLICIES) {
        for (const attempts of [0, 1, 2, 3, 4]) {
          const job = { id: 9, spec, onUnconfirmed, attempts, sessionId: attempts === 0 ? null : 12 };
          expect(StoreRules.settleUnanswered(job, 'the server restarted', 3)).toEqual(ServerRules.settleUnanswered(job, 'the server restarted', 3));
          cases++;
        }
      }
      for (const status of JOB_STATUSES) {
        for (const action of ['verify', 'resend', 'drop'] as UnconfirmedDecision[]) {
          const job = { id: 9, status, spec, command: kind, error: status === 'unconfirmed' ? 'sent in session 3, no Status arrived: x; decide: resend or drop' : null };
          expect(StoreRules.decisionRefusal(job, action)).toEqual(ServerRules.decisionRefusal(job, action));
          expect(StoreRules.settleDecision(job, action)).toEqual(ServerRules.settleDecision(job, action));
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(400);
    expect(StoreRules.DEFAULT_MAX_JOB_ATTEMPTS).toBe(DEFAULT_LIMITS.maxJobAttempts);
    expect(StoreRules.READ_ONLY_KINDS).toEqual(ServerRules.READ_ONLY_KINDS);
    expect(StoreRules.VERIFIABLE_KINDS).toEqual(ServerRules.VERIFIABLE_KINDS);
  });
});
