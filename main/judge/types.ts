/**
 * What the expert checks take and give. A finding names its rule, the spec clause that rule comes
 * from, the message (numbered from 1 in session order, as `dmw session show` numbers them) and the
 * element path inside it, so that a reader can go from the verdict to the byte and to the spec.
 */
import type { SyncML } from '../protocol/model.js';

export type Severity = 'error' | 'warning' | 'note';

export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'note'];

export interface Finding {
  severity: Severity;
  /** Stable rule id, e.g. `hdr.msgid-sequence`. */
  rule: string;
  /** Document and section, e.g. `OMA-TS-DM_Protocol-V1_2 §8.3`. */
  clause: string;
  /** The message's number in the session, from 1. */
  msg: number;
  /** Element path inside that message, e.g. `SyncML/SyncBody/Status[3]/CmdRef`. */
  path: string;
  /** One line: what is wrong here. */
  text: string;
}

/** Who sent a message: the DM client (the device) or the DM server. */
export type Role = 'client' | 'server';

/**
 * One message of a session as a log holds it. `direction` is seen from the log's owner (`side`
 * in JudgeOptions): for a server's log, `in` came from the device. Give the bytes when you have
 * them (size limits and encoding rules need them), the decoded message when you have it already
 * (it is not decoded twice), or both.
 */
export interface JudgeMessage {
  direction: 'in' | 'out';
  bytes?: Uint8Array;
  message?: SyncML;
  /** The message's number in the session when the log numbers them; else its place, from 1. */
  seq?: number;
  /** Where a device's message was sent (RespURI checks), when the log knows it. */
  url?: string;
  /** The HTTP Content-Type, when the log knows it: DM 2.0 (JSON) messages are not judged by these rules. */
  contentType?: string | null;
}

/** DevDetail/URI limits of the device (StdObj §5.3.3), when known from outside the session. */
export interface UriLimits {
  maxDepth?: number;
  maxTotLen?: number;
  maxSegLen?: number;
}

export interface JudgeOptions {
  /** Whose log this is: `server` (default: `in` = from the device) or `client`. */
  side?: Role;
  /** Limits read from the device's tree before this session (the session's own Results win). */
  uriLimits?: UriLimits;
}

/** A rule as the catalogue lists it. */
export interface RuleInfo {
  id: string;
  severity: Severity;
  clause: string;
  /** One line: what the rule requires. */
  text: string;
}
