/**
 * The DM 2.0 (OMA-TS-DM_Protocol-V2_0) message model: JSON packages, as zod schemas and the types
 * inferred from them, so the runtime check and the static type can never disagree.
 *
 * What public text confirms (README.md "Sources"): the package flow (optional package #0, package #1
 * from the client that may list its supported MOs, package #2 of server commands that the client
 * processes in sequence), JSON instead of XML, and the command names. Every FIELD NAME, the package
 * numbers carried in the JSON, the media type and the use of DM 1.x status codes are this binding's
 * assumptions: README.md lists each one and what it was based on. Keep them in this file only, so a
 * correction from the real specification is a one-file change.
 */
import { z } from 'zod';

/** Which protocol a server endpoint or a virtual handset speaks. DM 1.2/1.3 stays the default. */
export type DmProtocol = '1.2' | '2.0';
export const DEFAULT_DM_PROTOCOL: DmProtocol = '1.2';

/** Value of the `Ver` field. Assumption: the field exists and carries the enabler version. */
export const DM20_VERSION = '2.0';

/**
 * Media types. Assumption: the specification names its own JSON media type; which one could not be
 * read, so we send the first and accept all of these (plain application/json for hand-made tests).
 */
export const DM20_MEDIA_TYPE = 'application/vnd.oma.dm+json';
export const DM20_ACCEPTED_MEDIA_TYPES: readonly string[] = [DM20_MEDIA_TYPE, 'application/vnd.oma.dm.v2+json', 'application/json'];

/** The DM 2.0 command names (confirmed by public summaries of the specification). */
export const DM20_COMMANDS = ['HGET', 'HPUT', 'HPOST', 'GET', 'PUT', 'DELETE', 'EXEC', 'SHOW', 'CONT', 'END', 'DEFAULT', 'SUB', 'UNSUB'] as const;
export type Dm20CommandName = (typeof DM20_COMMANDS)[number];

/**
 * Package numbers carried in the JSON (`Pkg`). Assumption: 1 = the client's opening package,
 * 2 = a server package of commands, 3 = the client's results for the previous package 2. The
 * exchange repeats 2 -> 3 until the server sends END.
 */
export const PKG = { CLIENT_INIT: 1, SERVER_COMMANDS: 2, CLIENT_RESULTS: 3 } as const;

// --- building blocks -------------------------------------------------------------------------

const nonEmpty = z.string().min(1, 'must not be empty');
/** A node address. Assumption: DM 1.x tree paths (`./DevInfo/Mod`, `?prop=`/`?list=` allowed), not MOID/MIID ClientURIs. */
const uri = nonEmpty.max(4096, 'is longer than 4096 characters');
const cmdId = z.int('must be an integer').min(1, 'must be 1 or more').max(0xffff_ffff, 'is too large');
/** Assumption: status codes are the DM 1.x ones (200, 404, 425 ...), three digits. */
const statusCode = z.int('must be an integer').min(100, 'is not a three-digit status code').max(999, 'is not a three-digit status code');
const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');

function object<S extends z.ZodRawShape>(shape: S, strict: boolean) {
  return strict ? z.strictObject(shape) : z.object(shape);
}

// --- schemas (built for strict or lenient reading of unknown keys) ----------------------------

export function dm20Schemas(strict: boolean) {
  const version = z.literal(DM20_VERSION, { error: `must be "${DM20_VERSION}"` });

  const cmd = <N extends Dm20CommandName, S extends z.ZodRawShape>(name: N, shape: S) =>
    object({ CmdID: cmdId, Cmd: z.literal(name), ...shape }, strict);

  const data = { MOData: z.string().optional(), Format: nonEmpty.optional(), Type: nonEmpty.optional() };

  const command = z.discriminatedUnion('Cmd', [
    cmd('GET', { URI: uri }),
    cmd('PUT', { URI: uri, ...data }),
    cmd('DELETE', { URI: uri }),
    cmd('EXEC', { URI: uri, ...data, Correlator: nonEmpty.optional() }),
    // The client moves data between a node and a "data repository" over HTTP (assumed field DataURL).
    cmd('HGET', { URI: uri, DataURL: httpUrl }),
    cmd('HPUT', { URI: uri, DataURL: httpUrl }),
    cmd('HPOST', { URI: uri, DataURL: httpUrl }),
    // Hands a web page to the device's browser (assumed field URL).
    cmd('SHOW', { URL: httpUrl }),
    cmd('SUB', { URI: uri }),
    cmd('UNSUB', { URI: uri }),
    cmd('DEFAULT', { URI: uri.optional(), MOData: z.string().optional() }),
    cmd('CONT', {}),
    cmd('END', {}),
  ]);

  const mo = object({ MOID: nonEmpty, URI: uri }, strict);
  const event = object({ Type: nonEmpty, Source: uri.optional(), Format: nonEmpty.optional(), Data: z.string().optional(), Correlator: nonEmpty.optional() }, strict);
  const result = object({ CmdRef: cmdId, Status: statusCode, URI: uri.optional(), ...data }, strict);

  const head = { Ver: version, SID: nonEmpty.max(64, 'is longer than 64 characters') };
  const clientHead = { ...head, DevID: nonEmpty.max(256, 'is longer than 256 characters') };

  const package1 = object({
    ...clientHead,
    Pkg: z.literal(PKG.CLIENT_INIT),
    /** 'server' after a package #0 (DM 1.2's Alert 1200), 'client' otherwise (1201). */
    Init: z.enum(['client', 'server']).optional(),
    MOS: z.array(mo).optional(),
    DevInfo: z.record(nonEmpty, z.string()).optional(),
    Events: z.array(event).optional(),
  }, strict);
  const package3 = object({ ...clientHead, Pkg: z.literal(PKG.CLIENT_RESULTS), Results: z.array(result), Events: z.array(event).optional() }, strict);
  const clientMessage = z.discriminatedUnion('Pkg', [package1, package3]);
  const serverPackage = object({ ...head, Pkg: z.literal(PKG.SERVER_COMMANDS), CMD: z.array(command).min(1, 'must hold at least one command') }, strict);

  return { command, mo, event, result, package1, package3, clientMessage, serverPackage };
}

const STRICT = dm20Schemas(true);

export type Dm20Command = z.infer<typeof STRICT.command>;
export type Dm20CommandOf<N extends Dm20CommandName> = Extract<Dm20Command, { Cmd: N }>;
export type Dm20Mo = z.infer<typeof STRICT.mo>;
export type Dm20Event = z.infer<typeof STRICT.event>;
export type Dm20Result = z.infer<typeof STRICT.result>;
export type Dm20Package1 = z.infer<typeof STRICT.package1>;
export type Dm20ResultsPackage = z.infer<typeof STRICT.package3>;
export type Dm20ClientMessage = z.infer<typeof STRICT.clientMessage>;
export type Dm20ServerPackage = z.infer<typeof STRICT.serverPackage>;
export type Dm20Message = Dm20ClientMessage | Dm20ServerPackage;

/** A command before the server numbers it into a package. */
export type Dm20CommandDraft = Dm20Command extends infer C ? (C extends { CmdID: number } ? Omit<C, 'CmdID'> : never) : never;
