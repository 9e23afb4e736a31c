/**
 * The client-side command processor (DM-2/DM-5): a server's package run against a DM tree as that
 * server, and the client session around it (message IDs, splitting over MaxMsgSize, large objects).
 *
 *   const session = new ClientSession({ tree, serverId: 'srvA', exec, alert });
 *   const reply = await session.receive(serverMessage);   // SyncML | null (session over)
 *
 * or, for one package with no server on the other end (dry runs, tests):
 *
 *   const { messages, events } = await processPackage(tree, serverMessage, { serverId: 'srvA' });
 */
import type { SyncML } from '../../protocol/model.js';
import type { DmTree } from '../tree.js';
import { ClientSession, type ClientSessionOptions } from './session.js';
import type { ProcessEvent } from './types.js';

export * from './alerts.js';
export * from './types.js';
export { CommandProcessor, isErrorStatus } from './processor.js';
export { ClientSession, type ClientSessionOptions, type GenericAlert } from './session.js';

export interface PackageRun {
  /** The client's response package: one message, or several when it did not fit the server's MaxMsgSize. */
  messages: SyncML[];
  events: ProcessEvent[];
  warnings: string[];
  session: ClientSession;
}

/**
 * Run one server package and collect the client's whole response package. When the response spans
 * several messages, the server's "next message" requests (SyncHdr Status + Alert 1222) are simulated.
 * `maxMessages` bounds that loop (a response that never shrinks is a bug, not a hang).
 */
export async function processPackage(
  tree: DmTree,
  message: SyncML,
  options: Omit<ClientSessionOptions, 'tree'>,
  maxMessages = 10_000,
): Promise<PackageRun> {
  const session = new ClientSession({ ...options, tree });
  const messages: SyncML[] = [];
  let reply = await session.receive(message);
  while (reply !== null) {
    messages.push(reply);
    if (reply.body.final || session.pending === 0 || messages.length >= maxMessages || session.isEnded) break;
    reply = await session.receive(session.nextMessageRequest(reply));
  }
  return { messages, events: session.log, warnings: session.warnings, session };
}
