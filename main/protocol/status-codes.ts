/**
 * The one table of SyncML DM status codes: what each code means, for people reading a session.
 *
 * Source: the response status codes of SyncML Representation Protocol 1.2 (OMA-TS-SyncML_RepPro-V1_2,
 * "Response Status Codes"), which OMA DM 1.2 uses unchanged (OMA-TS-DM_RepPro-V1_2 §6.1.23 Status,
 * OMA-TS-DM_Protocol-V1_2 §10). The data-synchronization-only codes are listed too, because a
 * device may send any of them and the reader still wants a name.
 *
 * Pure data, no Node import: the renderer, the CLI and the judge all read this module, so a code
 * shows the same words everywhere.
 */

/** The five classes of the table, named as the specification names them. */
export type StatusClass = 'informational' | 'successful' | 'redirection' | 'originator-exception' | 'recipient-exception';

export interface StatusMeaning {
  code: number;
  /** The specification's short name, e.g. "Not found". */
  meaning: string;
  /** One sentence on when a DM peer answers with it. */
  detail: string;
  cls: StatusClass;
}

const CLASS_LABELS: Readonly<Record<StatusClass, string>> = {
  informational: 'informational',
  successful: 'successful',
  redirection: 'redirection',
  'originator-exception': 'originator exception (the request was wrong)',
  'recipient-exception': 'recipient exception (the recipient failed)',
};

// [code, short meaning, detail]
const ROWS: ReadonlyArray<readonly [number, string, string]> = [
  [101, 'In progress', 'The command is being carried out but has not completed yet.'],

  [200, 'OK', 'The command completed successfully.'],
  [201, 'Item added', 'The requested item was added.'],
  [202, 'Accepted for processing', 'An Exec or a user alert was accepted and runs asynchronously; the result comes later (e.g. in a Generic Alert).'],
  [203, 'Non-authoritative response', 'Answered by an entity other than the one targeted.'],
  [204, 'No content', 'Completed, but no data is returned.'],
  [205, 'Reset content', 'The originator should synchronize its content.'],
  [206, 'Partial content', 'Only part of the command was completed.'],
  [207, 'Conflict resolved with merge', 'An update conflict was resolved by merging both versions.'],
  [208, "Conflict resolved with client's command winning", "An update conflict was resolved in favour of the client's command."],
  [209, 'Conflict resolved with duplicate', 'An update conflict was resolved by duplicating the item.'],
  [210, 'Delete without archive', 'Deleted, but the recipient could not archive the item.'],
  [211, 'Item not deleted', 'The item to delete was not found; nothing was deleted.'],
  [212, 'Authentication accepted', 'The credentials were accepted for the rest of the session (Status for SyncHdr).'],
  [213, 'Chunked item accepted and buffered', 'A chunk of a large object (MoreData) was received and buffered; send the next one.'],
  [214, 'Operation cancelled', 'Completed, and the recipient processes no further commands of the session.'],
  [215, 'Not executed', 'Not run, e.g. because the user cancelled it or an earlier command stopped the package.'],
  [216, 'Atomic roll back OK', 'A member of a failed Atomic was rolled back successfully.'],

  [300, 'Multiple choices', 'The target matches several items; the originator must choose one.'],
  [301, 'Moved permanently', 'The target has a new permanent URI.'],
  [302, 'Found', 'The target is temporarily at another URI.'],
  [303, 'See other', 'The answer is found at another URI.'],
  [304, 'Not modified', 'The command was not run; the target is unchanged.'],
  [305, 'Use proxy', 'The target must be reached through the given proxy.'],

  [400, 'Bad request', 'The command could not be run because of malformed syntax.'],
  [401, 'Invalid credentials', 'Authentication failed or was missing; a Chal tells which credentials to send.'],
  [402, 'Payment required', 'The command needs payment before it can be run.'],
  [403, 'Forbidden', 'The recipient understood the command but refuses to run it.'],
  [404, 'Not found', 'The target (node or URI) does not exist.'],
  [405, 'Command not allowed', 'The command is not allowed on this target (e.g. Replace on a read-only node).'],
  [406, 'Optional feature not supported', 'The command uses an optional feature the recipient does not support.'],
  [407, 'Missing credentials', 'Authentication is required and no credentials were sent.'],
  [408, 'Request timeout', 'The expected message or user response did not arrive in time.'],
  [409, 'Conflict', 'An update conflict between the client and server data.'],
  [410, 'Gone', 'The target no longer exists and has no forwarding address.'],
  [411, 'Size required', 'A large object was sent without the Size of the whole object.'],
  [412, 'Incomplete command', 'The command lacks required elements.'],
  [413, 'Request entity too large', 'The data is larger than the recipient can process (MaxObjSize).'],
  [414, 'URI too long', 'The URI is longer than the recipient accepts (MaxTotLen, MaxSegLen, MaxDepth).'],
  [415, 'Unsupported media type or format', 'The Meta Type or Format of the data is not supported.'],
  [416, 'Requested size too big', 'The announced size of the object is larger than the recipient can take.'],
  [417, 'Retry later', 'The recipient is busy; try again later.'],
  [418, 'Already exists', 'Add of a node or item that already exists.'],
  [419, 'Conflict resolved with server data', 'An update conflict was resolved in favour of the server data.'],
  [420, 'Device full', 'The recipient has no storage left for the data.'],
  [421, 'Unknown search grammar', 'The search grammar is not known to the recipient.'],
  [422, 'Bad CGI script', 'The CGI part of the target URI is wrong.'],
  [423, 'Soft-delete conflict', 'A soft-deleted item had already been hard-deleted.'],
  [424, 'Size mismatch', 'The chunked object was received whole, but its size differs from the Size given with the first chunk.'],
  [425, 'Permission denied', 'The ACL of the target does not give the sender (ServerID) this command.'],
  [426, 'Partial item not accepted', 'A chunk was refused; the whole item may be sent again in the next package.'],
  [427, 'Item not empty', 'The interior node cannot be deleted because it has children.'],
  [428, 'Move failed', 'The item could not be moved.'],

  [500, 'Command failed', 'An unexpected condition stopped the recipient from running the command.'],
  [501, 'Command not implemented', 'The recipient does not implement the command.'],
  [502, 'Bad gateway', 'A gateway or proxy got an invalid answer upstream.'],
  [503, 'Service unavailable', 'The recipient is temporarily overloaded or in maintenance.'],
  [504, 'Gateway timeout', 'A gateway or proxy got no timely answer upstream.'],
  [505, 'DTD version not supported', 'The VerDTD of the message is not supported.'],
  [506, 'Processing error', 'An application error occurred while processing the command.'],
  [507, 'Atomic failed', 'A member of the Atomic failed, so the whole Atomic failed.'],
  [508, 'Refresh required', 'The synchronization state must be refreshed.'],
  [509, 'Reserved', 'Reserved for future use.'],
  [510, 'Data store failure', 'The recipient data store failed.'],
  [511, 'Server failure', 'A severe error in the server.'],
  [512, 'Synchronization failed', 'An application error during the synchronization session.'],
  [513, 'Protocol version not supported', 'The VerProto of the message is not supported.'],
  [514, 'Operation cancelled', 'Not run because the operation had been cancelled before.'],
  [516, 'Atomic roll back failed', 'A member of a failed Atomic could not be rolled back.'],
  [517, 'Atomic response too large to fit', 'The answers to an Atomic do not fit in one message.'],
];

function classOfCode(code: number): StatusClass | undefined {
  switch (Math.floor(code / 100)) {
    case 1: return 'informational';
    case 2: return 'successful';
    case 3: return 'redirection';
    case 4: return 'originator-exception';
    case 5: return 'recipient-exception';
    default: return undefined;
  }
}

/** Every defined status code, in order. */
export const STATUS_CODES: ReadonlyMap<number, StatusMeaning> = new Map(
  ROWS.map(([code, meaning, detail]) => [code, { code, meaning, detail, cls: classOfCode(code)! }]),
);

function asCode(code: number | string | null | undefined): number | undefined {
  if (typeof code === 'number') return Number.isInteger(code) ? code : undefined;
  if (typeof code === 'string' && /^\s*\d{3}\s*$/.test(code)) return Number(code);
  return undefined;
}

/** The table's entry for a code (a number or the text of a Status's Data), or undefined. */
export function statusMeaning(code: number | string | null | undefined): StatusMeaning | undefined {
  const n = asCode(code);
  return n === undefined ? undefined : STATUS_CODES.get(n);
}

/** The class of any three-digit code, defined or not (by its first digit). */
export function statusClass(code: number | string | null | undefined): StatusClass | undefined {
  const n = asCode(code);
  return n === undefined || n < 100 || n > 599 ? undefined : classOfCode(n);
}

export function statusClassLabel(cls: StatusClass): string {
  return CLASS_LABELS[cls];
}

/** "404 Not found"; a code outside the table says so ("599 (undefined status code)"). */
export function describeStatus(code: number | string): string {
  const m = statusMeaning(code);
  const text = String(code).trim();
  return m ? `${m.code} ${m.meaning}` : `${text} (undefined status code)`;
}

/** A tooltip: the meaning, the class and the detail sentence. */
export function statusTooltip(code: number | string): string {
  const m = statusMeaning(code);
  if (!m) {
    const cls = statusClass(code);
    return `${String(code).trim()}: not a SyncML status code${cls ? ` (${statusClassLabel(cls)} class)` : ''}`;
  }
  return `${m.code} ${m.meaning} — ${statusClassLabel(m.cls)}. ${m.detail}`;
}
