/**
 * The UI's portable traces (contract-traces.ts): export a session as the pcapng trace or bundle
 * `dmw session export` writes, and import a capture or bundle as `dmw capture import` does. The
 * files are made and read by main/capture/trace-file.ts, the CLI's own code, so a file from the
 * UI is byte for byte the CLI's (the bundle's exportedAt aside), and a file the CLI refuses the UI
 * refuses with the same words. Sizes are bounded (the transport carries base64 in one message);
 * over a bound the answer names the size, the limit and the CLI command, which has none.
 */
import type { DmStore } from '../store/store.js';
import { appVersion as packageVersion, savedSettings } from '../capture/producer.js';
import { credentialVerdicts, readTraceFile, sessionTraceBytes, sessionTraceFileName, traceFileProblem, TRACE_MEDIA_TYPES, type TraceFileContents } from '../capture/trace-file.js';
import type { Handlers } from './contract.js';
import { MAX_TRACE_DOWNLOAD_BYTES, MAX_TRACE_UPLOAD_BYTES, type TracesExportOutput, type TracesImportOutput } from './contract-traces.js';

export interface TracesDeps {
  /** The store sessions are read from. */
  reader: () => DmStore;
  /** The store imports are written to: the running server's own when there is one (it owns the ids). */
  writer: () => DmStore;
  /** The data folder, absolute (written into the pcapng comment, named in the CLI hint). */
  dataDir: () => string;
  now: () => number;
  appVersion?: () => string;
  /** Bounds in bytes (tests make them small); defaults from contract-traces.ts. */
  limits?: { download?: number; upload?: number };
}

type TraceHandlers = Pick<Handlers, 'traces.export' | 'traces.import'>;

/** A path as a shell word (the CLI hint is meant to be pasted). */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const bytesText = (n: number) => `${n.toLocaleString('en-US')} bytes`;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function traceHandlers(deps: TracesDeps): TraceHandlers {
  const download = deps.limits?.download ?? MAX_TRACE_DOWNLOAD_BYTES;
  const upload = deps.limits?.upload ?? MAX_TRACE_UPLOAD_BYTES;
  const version = deps.appVersion ?? packageVersion;

  const exportTrace: TraceHandlers['traces.export'] = async ({ id, format }): Promise<TracesExportOutput> => {
    const store = deps.reader();
    const session = await store.session(id);
    if (!session) throw new Error(`no session ${id}`);
    const fileName = sessionTraceFileName(session, format);
    const dataDir = deps.dataDir();
    const command = `dmw session export ${id} --data ${shellWord(dataDir)} --format ${format} -o ${shellWord(fileName)}`;
    const tooBig = (what: string, size: number): TracesExportOutput => ({
      ok: false,
      error: { message: `${what} ${bytesText(size)}, more than the ${bytesText(download)} the UI downloads; write it with: ${command}`, size, limit: download, command },
    });
    const messages = await store.messages(id);
    // The file holds every message's bytes (more, in fact): refuse before building it.
    const payload = messages.reduce((n, m) => n + m.bytes.length, 0);
    if (payload > download) return tooBig(`session ${id} holds`, payload);
    const bytes = sessionTraceBytes(format, { session, messages, appVersion: version(), settings: savedSettings(dataDir), dataDir, now: deps.now() });
    if (bytes.length > download) return tooBig(`the ${format} of session ${id} is`, bytes.length);
    return { ok: true, fileName, mediaType: TRACE_MEDIA_TYPES[format], size: bytes.length, base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  };

  const importTrace: TraceHandlers['traces.import'] = async ({ fileName, base64, clientCred, serverCred }): Promise<TracesImportOutput> => {
    const name = fileName.replace(/^.*[\\/]/, '') || 'upload';
    if (!BASE64.test(base64) || base64.length % 4 !== 0) throw new Error(`${name}: the file's bytes did not arrive as base64`);
    const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
    if (bytes.length > upload) {
      return { ok: false, error: { message: `${name}: ${bytesText(bytes.length)}, more than the ${bytesText(upload)} the UI imports; import it with: dmw capture import ${shellWord(name)} --data ${shellWord(deps.dataDir())}; nothing imported`, offset: null } };
    }
    let contents: TraceFileContents;
    try {
      contents = readTraceFile(bytes, { client: clientCred, server: serverCred });
    } catch (e) {
      const problem = traceFileProblem(e);
      if (problem) return { ok: false, error: { message: `${name}: ${problem.message}; nothing imported`, offset: problem.offset } };
      throw e;
    }
    // One transaction: the file imports whole or not at all (DmStore.importSessions).
    const ids = await deps.writer().importSessions(contents.sessions, `imported from ${name}`);
    return {
      ok: true,
      kind: contents.kind,
      sessions: contents.sessions.map((s, i) => ({ id: ids[i]!, device: s.device, dmSessionId: s.dmSessionId, messages: s.messages.length })),
      messages: contents.sessions.reduce((n, s) => n + s.messages.length, 0),
      skipped: contents.skipped,
      credentials: credentialVerdicts(contents.sessions).map((c) => ({ sessionId: ids[c.session]!, seq: c.seq, text: c.text })),
    };
  };

  return { 'traces.export': exportTrace, 'traces.import': importTrace };
}
