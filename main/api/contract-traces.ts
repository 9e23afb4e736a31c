/**
 * Portable traces in the UI (issue 18 point 4, "and the UI's export"): a session exported as the
 * pcapng trace or the bundle `dmw session export` writes (the same bytes), and a capture or
 * bundle file imported into the store as `dmw capture import` does. Registered in contract.ts.
 *
 * Bytes travel base64 inside the JSON calls, so both directions are bounded: a call the UI sends
 * over the WebSocket must stay under its frame limit (MAX_CALL_BYTES, 8 MiB, main/api/ws-server.ts),
 * and a reply is one string in the page's memory. Over a bound the answer says the size, the limit
 * and the `dmw` command that has none.
 *
 * This module runs in the browser too: zod only, never Node.
 */
import { z } from 'zod';

/** Largest file the UI imports: base64 (4/3) plus the call's envelope stays under the WebSocket's 8 MiB frame limit. */
export const MAX_TRACE_UPLOAD_BYTES = 5 * 1024 * 1024;
/** Largest trace the UI downloads (one base64 string in the reply and a Blob in the page). */
export const MAX_TRACE_DOWNLOAD_BYTES = 64 * 1024 * 1024;
/** base64 length of n bytes. */
export const base64Length = (n: number): number => Math.ceil(n / 3) * 4;

export const TraceFormatSchema = z.enum(['pcapng', 'bundle']);

const credential = z.object({ name: z.string().min(1).max(256), secret: z.string().max(1024) }).strict();

export const TracesExportInputSchema = z.object({ id: z.number().int(), format: TraceFormatSchema }).strict();

/** A trace too big for the UI: how big, the limit, and the CLI command that writes it instead. */
export const TooBigSchema = z.object({ message: z.string(), size: z.number().int(), limit: z.number().int(), command: z.string() });

export const TracesExportOutputSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    fileName: z.string(),
    mediaType: z.string(),
    /** Bytes of the file (before base64). */
    size: z.number().int(),
    base64: z.string().max(base64Length(MAX_TRACE_DOWNLOAD_BYTES)),
  }),
  z.object({ ok: z.literal(false), error: TooBigSchema }),
]);
export type TracesExportOutput = z.infer<typeof TracesExportOutputSchema>;

export const TracesImportInputSchema = z.object({
  /** The picked file's name (the imported sessions' reason says "imported from NAME"). */
  fileName: z.string().min(1).max(255),
  base64: z.string().max(base64Length(MAX_TRACE_UPLOAD_BYTES)),
  /** As `dmw capture import --client-cred / --server-cred`: each MD5 or HMAC credential in the capture is checked. */
  clientCred: credential.optional(),
  serverCred: credential.optional(),
}).strict();
export type TracesImportInput = z.infer<typeof TracesImportInputSchema>;

export const ImportedSessionViewSchema = z.object({ id: z.number().int(), device: z.string().nullable(), dmSessionId: z.string().nullable(), messages: z.number().int() });
export const CredentialVerdictSchema = z.object({ sessionId: z.number().int(), seq: z.number().int(), text: z.string() });
export type CredentialVerdict = z.infer<typeof CredentialVerdictSchema>;

export const TracesImportOutputSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    kind: z.enum(['capture', 'bundle']),
    sessions: z.array(ImportedSessionViewSchema),
    messages: z.number().int(),
    /** Connections that held no readable DM exchange (TLS, not HTTP, framing trouble), with why. */
    skipped: z.array(z.object({ stream: z.string(), reason: z.string() })),
    /** Each credential checked, as noted on its message ("client MD5 credential for "lab": valid"). */
    credentials: z.array(CredentialVerdictSchema),
  }),
  /** A broken file: what and where (offset in the file when known); nothing was imported. */
  z.object({ ok: z.literal(false), error: z.object({ message: z.string(), offset: z.number().int().nullable() }) }),
]);
export type TracesImportOutput = z.infer<typeof TracesImportOutputSchema>;

export const traceChannels = {
  /** The session as a pcapng trace or a bundle: the bytes `dmw session export` writes, base64. */
  'traces.export': { input: TracesExportInputSchema, output: TracesExportOutputSchema },
  /** A pcap/pcapng capture or a bundle into the store as imported sessions (`dmw capture import`); all or nothing. */
  'traces.import': { input: TracesImportInputSchema, output: TracesImportOutputSchema },
} as const;
