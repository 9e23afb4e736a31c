/**
 * Shapes shared by the command processor and the client session.
 */
import type { Command, Status } from '../../protocol/model.js';
import type { DmUri } from '../uri.js';
import type { DmTree } from '../tree.js';
import type { DdfSchema } from '../ddf.js';
import type { AlertResponder } from './alerts.js';

export interface ExecRequest {
  /** Canonical path of the Exec target. */
  path: string;
  uri: DmUri;
  /** The Item's Data (text, or bytes for binary data). */
  data?: string | Uint8Array;
  format?: string;
  type?: string;
  correlator?: string;
  serverId: string;
  tree: DmTree;
  /** Inside an Atomic: a handler with side effects that cannot be rolled back may prefer to refuse. */
  inAtomic: boolean;
  cmdId: string;
}

export interface ExecOutcome {
  /** 200 done, 202 accepted (result later, e.g. by a Generic Alert 1226), or an error status. */
  status: number;
  /** Sent as a Results after the Exec's Status. */
  results?: { data: string | Uint8Array; format?: string; type?: string; source?: string };
  /** For the log (why it failed, what it did). */
  message?: string;
}

export type ExecHandler = (req: ExecRequest) => ExecOutcome | Promise<ExecOutcome>;

/** Route Exec by target path; targets not in the table answer 406 (nothing to execute there). */
export function execTable(table: Record<string, ExecHandler>): ExecHandler {
  return (req) => {
    const h = table[req.path];
    if (h === undefined) return { status: 406, message: `no Exec handler is registered for ${req.path}` };
    return h(req);
  };
}

export interface ProcessorOptions {
  /** The server whose package this is (the principal for every ACL check). */
  serverId: string;
  exec?: ExecHandler;
  /** UI alerts 1100-1104; default: answer with the Default Response, or 406 (see alerts.ts). */
  alert?: AlertResponder;
  /** MO schemas: commands they refuse get 405/415/418 before reaching the tree. */
  schemas?: readonly DdfSchema[];
  /** The largest object this client accepts (our MaxObjSize); 0 or undefined = no limit. */
  maxObjSize?: number;
  /** Sequence: skip (215) the members after one that failed. Default false: only a 1101 "no" bypasses. */
  sequenceStopsOnError?: boolean;
  /** Fault injection (main/client/faults.ts): wrong behaviour on purpose. Never set outside fault runs. */
  faults?: ProcessorFaults;
}

/** What a faulty handset's processor does wrong (main/client/faults.ts). */
export interface ProcessorFaults {
  /** ignore-atomic-rollback: an Atomic with a failing member keeps what succeeded and is answered 200. */
  ignoreAtomicRollback?: boolean;
  /** skip-acl: commands run as the device itself, which no ACL binds. */
  skipAcl?: boolean;
}

/** One step of the package's processing, for the session log and the CLI report. */
export interface ProcessEvent {
  cmd: string;
  cmdId: string;
  status: number;
  target?: string;
  source?: string;
  /** Why (for failures), or what happened. One line. */
  message?: string;
}

/**
 * A group of response commands that travel together: a Status and the Results that follow it, or a
 * whole Atomic's statuses (which must fit in one message). CmdIDs are assigned when a message is built.
 */
export interface ResponseUnit {
  commands: Command[];
  /** The Atomic rule: never split over messages. */
  indivisible?: boolean;
}

/** A Replace/Add whose data arrives in chunks (MoreData) across messages. */
export interface IncomingObject {
  cmd: 'Add' | 'Replace';
  /** Item Target LocURI as sent. */
  target: string;
  format?: string;
  type?: string;
  declaredSize?: number;
  parts: Array<string | Uint8Array>;
  size: number;
  /**
   * Binary data for a `bin` node sent as Format b64 (over XML, TND §7.7.2): each chunk's Base64 as
   * received, decoded on the last chunk; `size` then counts the decoded bytes where each chunk
   * decodes alone, and `encodedSize` the Base64 characters (a peer's Size may count either).
   */
  b64?: { texts: string[]; encodedSize: number; eachDecodes: boolean };
  /** Where the first chunk came from (for the log). */
  cmdId: string;
  msgRef: string;
}

/** What the session keeps between messages on the processor's behalf. */
export interface ProcessorState {
  incoming?: IncomingObject;
  /**
   * A large object whose chunks we refused (413/416/400) or dropped (Alert 1225): its remaining
   * chunks (same command and target, no Meta Size) are refused too, until its last chunk, a new
   * first chunk for it (Meta Size), or the end of the server's package.
   */
  refused?: { cmd: 'Add' | 'Replace'; target: string; status: number; why: string };
}

export interface ProcessContext {
  /** The server message's MsgID (every Status's MsgRef). */
  msgRef: string;
  /** The server's SyncHdr said NoResp: no Status at all. */
  noResp?: boolean;
  /** The server is not authenticated: answer every command with this status, execute nothing. */
  refuseWith?: number;
  /** The server's message closes its package (Final). */
  final?: boolean;
  /** Would these commands fit into one message (with the SyncHdr Status)? For Atomic's 517. */
  fitsInOneMessage?: (commands: Command[]) => boolean;
}

export interface ProcessOutput {
  units: ResponseUnit[];
  events: ProcessEvent[];
  /** The server asked for our next message (Alert 1222). */
  nextMessageRequested: boolean;
  /** The server aborted the session (Alert 1223). */
  sessionAborted: boolean;
  /** The server says our chunked object was interrupted (Alert 1225). */
  outgoingObjectAborted: boolean;
  /** Statuses the server sent about our previous message. */
  serverStatuses: Status[];
}

