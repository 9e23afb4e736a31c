/**
 * The packet list's part of the contract (issue 18 points 1-2): one table of messages across
 * sessions, filtered in the backend by the display filter language (main/store/filter/) over the
 * message index (main/store/message-index.ts). Registered in contract.ts.
 *
 * This module runs in the browser too: zod only, never Node.
 */
import { z } from 'zod';

/** Columns the packet list sorts by (each has an SQL index or a cheap key in the message index). */
export const PACKET_SORT_COLUMNS = ['time', 'session', 'device', 'dir', 'msgId', 'size', 'enc', 'status', 'findings'] as const;
export type PacketSortColumn = (typeof PACKET_SORT_COLUMNS)[number];

/** Most rows one packets.query returns (the list asks for the window it shows). */
export const MAX_PACKET_ROWS = 2000;
/** Longest filter text accepted (a filter is typed by hand; this bounds the parser's work). */
export const MAX_FILTER_LENGTH = 4096;

export const PacketsQueryInputSchema = z.object({
  filter: z.string().max(MAX_FILTER_LENGTH),
  offset: z.number().int().min(0),
  limit: z.number().int().min(1).max(MAX_PACKET_ROWS),
  sort: z.object({ column: z.enum(PACKET_SORT_COLUMNS), desc: z.boolean() }).strict().optional(),
}).strict();
export type PacketsQueryInput = z.infer<typeof PacketsQueryInputSchema>;

export const PacketRowSchema = z.object({
  /** The message's id in the store (stable: sessions.message takes it). */
  id: z.number().int(),
  sessionId: z.number().int(),
  /** Its place in the session (1, 2, ...). */
  seq: z.number().int(),
  /** When it was received or sent, ms since the epoch. */
  at: z.number(),
  devId: z.string(),
  dir: z.enum(['in', 'out']),
  msgId: z.string().nullable(),
  /** Bytes on the wire. */
  size: z.number().int(),
  /** 'xml', 'wbxml', 'json' (DM 2.0) or what the content type said ('' when unknown). */
  enc: z.string(),
  /** The commands in order, runs of one name collapsed: "Status×3 Get Results". */
  commands: z.string(),
  /** The Status codes, runs collapsed: "200×2 404". */
  status: z.string(),
  /** Highest Status code in the message (for colouring), null when it has none. */
  worst: z.number().int().nullable(),
  findings: z.object({ error: z.number().int(), warning: z.number().int(), note: z.number().int() }),
});
export type PacketRow = z.infer<typeof PacketRowSchema>;

/** A filter the parser refused: where (0-based character offset in the filter) and how long. */
export const FilterErrorSchema = z.object({ message: z.string(), position: z.number().int().min(0), length: z.number().int().min(0) });
export type FilterErrorView = z.infer<typeof FilterErrorSchema>;

export const PacketsQueryOutputSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), total: z.number().int(), rows: z.array(PacketRowSchema), tookMs: z.number() }),
  z.object({ ok: z.literal(false), error: FilterErrorSchema }),
]);
export type PacketsQueryOutput = z.infer<typeof PacketsQueryOutputSchema>;

export const PacketFieldSchema = z.object({ name: z.string(), type: z.enum(['string', 'number']), help: z.string() });
export type PacketField = z.infer<typeof PacketFieldSchema>;

/** Most session ids one sessions.search returns (the Sessions view lists at most this many). */
export const MAX_SEARCH_SESSIONS = 10_000;

export const SessionsSearchOutputSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), ids: z.array(z.number().int()), truncated: z.boolean(), tookMs: z.number() }),
  z.object({ ok: z.literal(false), error: FilterErrorSchema }),
]);
export type SessionsSearchOutput = z.infer<typeof SessionsSearchOutputSchema>;

export const packetChannels = {
  /** Messages matching a display filter ('' matches all), sorted, one page of them, and how many match. */
  'packets.query': { input: PacketsQueryInputSchema, output: PacketsQueryOutputSchema },
  /** The filter language's fields, for the filter bar's help and completion. */
  'packets.fields': { input: z.object({}).strict(), output: z.object({ fields: z.array(PacketFieldSchema) }) },
  /** Content search: the sessions (newest first) with a message matching a display filter, from the same index. */
  'sessions.search': {
    input: z.object({ filter: z.string().min(1).max(MAX_FILTER_LENGTH), limit: z.number().int().min(1).max(MAX_SEARCH_SESSIONS).optional() }).strict(),
    output: SessionsSearchOutputSchema,
  },
} as const;
