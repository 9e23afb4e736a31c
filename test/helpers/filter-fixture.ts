/**
 * Sessions made of small but real SyncML DM messages, logged into a store, for the message index and
 * display filter tests (and the ui bench's 100k-message store, test/bench/ui-filter-data.ts).
 *
 * One session is four messages:
 *   #1 in  (MsgID 1): Alert 1201, Replace ./DevInfo/Mod "<model>", Cred md5
 *   #2 out (MsgID 1): Status 212 SyncHdr, Status 200 Alert, Get ./DevInfo/Ext (CmdID 3), Replace ./Vendor/Lab/Greeting "<greeting>" (CmdID 4)
 *   #3 in  (MsgID 2): Status 200 SyncHdr, Status <getStatus> for Get 3, Status 200 for Replace 4
 *   #4 out (MsgID 2): Status 200 SyncHdr
 */
import type { NewMessage, ServerStore } from '../../main/store/server-store.js';

const enc = new TextEncoder();

function hdr(sessionId: string, msgId: string, devId: string, fromDevice: boolean, extra = ''): string {
  const dev = `<LocURI>${devId}</LocURI>`;
  const srv = '<LocURI>http://127.0.0.1/dm</LocURI>';
  return `<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>${sessionId}</SessionID><MsgID>${msgId}</MsgID>`
    + `<Target>${fromDevice ? srv : dev}</Target><Source>${fromDevice ? dev : srv}</Source>${extra}</SyncHdr>`;
}

const doc = (h: string, body: string) => enc.encode(`<SyncML xmlns="SYNCML:SYNCML1.2">${h}<SyncBody>${body}<Final/></SyncBody></SyncML>`);

const status = (cmdId: number, msgRef: string, cmdRef: string, cmd: string, code: number, target?: string) =>
  `<Status><CmdID>${cmdId}</CmdID><MsgRef>${msgRef}</MsgRef><CmdRef>${cmdRef}</CmdRef><Cmd>${cmd}</Cmd>${target ? `<TargetRef>${target}</TargetRef>` : ''}<Data>${code}</Data></Status>`;

export interface SessionSpec {
  devId: string;
  dmSessionId?: string;
  model?: string;
  greeting?: string;
  getStatus?: number;
  at?: number;
}

/** The four messages of one session (see the top of this file), without session ids. */
export function sessionMessages(spec: SessionSpec): Omit<NewMessage, 'sessionId' | 'seq'>[] {
  const sid = spec.dmSessionId ?? '1';
  const t = spec.at ?? Date.UTC(2026, 11, 7, 8, 0, 0);
  const ct = 'application/vnd.syncml.dm+xml';
  const cred = '<Cred><Meta><Type xmlns="syncml:metinf">syncml:auth-md5</Type></Meta><Data>AAAA</Data></Cred>';
  return [
    {
      direction: 'in', at: t, msgId: '1', contentType: ct,
      bytes: doc(hdr(sid, '1', spec.devId, true, cred),
        `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Replace><CmdID>2</CmdID><Item><Source><LocURI>./DevInfo/Mod</LocURI></Source><Data>${spec.model ?? 'Lab Phone'}</Data></Item></Replace>`),
    },
    {
      direction: 'out', at: t + 5, msgId: '1', contentType: ct, httpStatus: 200,
      bytes: doc(hdr(sid, '1', spec.devId, false),
        status(1, '1', '0', 'SyncHdr', 212, 'http://127.0.0.1/dm') + status(2, '1', '1', 'Alert', 200)
        + '<Get><CmdID>3</CmdID><Item><Target><LocURI>./DevInfo/Ext</LocURI></Target></Item></Get>'
        + `<Replace><CmdID>4</CmdID><Item><Target><LocURI>./Vendor/Lab/Greeting</LocURI></Target><Data>${spec.greeting ?? 'hello world'}</Data></Item></Replace>`),
    },
    {
      direction: 'in', at: t + 20, msgId: '2', contentType: ct,
      bytes: doc(hdr(sid, '2', spec.devId, true),
        status(1, '1', '0', 'SyncHdr', 200) + status(2, '1', '3', 'Get', spec.getStatus ?? 200, './DevInfo/Ext') + status(3, '1', '4', 'Replace', 200, './Vendor/Lab/Greeting')),
    },
    {
      direction: 'out', at: t + 25, msgId: '2', contentType: ct, httpStatus: 200,
      bytes: doc(hdr(sid, '2', spec.devId, false), status(1, '2', '0', 'SyncHdr', 200)),
    },
  ];
}

/** Logs one session the way the live server does (createSession, then addMessages per round trip). */
export function logSession(store: ServerStore, spec: SessionSpec): number {
  const ms = sessionMessages(spec);
  return store.tx(() => {
    const id = store.createSession({ device: spec.devId, dmSessionId: spec.dmSessionId ?? '1', encoding: 'xml', authType: 'md5' }, ms[0]!.at);
    store.addMessages([{ ...ms[0]!, sessionId: id, seq: 1 }, { ...ms[1]!, sessionId: id, seq: 2 }]);
    store.addMessage({ ...ms[2]!, sessionId: id, seq: 3 });
    store.addMessage({ ...ms[3]!, sessionId: id, seq: 4 });
    store.endSession(id, 'done', 'completed', ms[3]!.at);
    return id;
  });
}
