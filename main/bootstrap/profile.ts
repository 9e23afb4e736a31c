/**
 * Bootstrap profiles: what a lab engineer fills in to provision one DM account (DM-3 smart card,
 * DM-4 OTA). A profile is plain JSON; `parseProfile` checks every field and names the ones at fault.
 *
 *   {
 *     "serverId": "com.example.dm",            DMAcc/<X>/ServerID (must be usable in ACLs)
 *     "name": "Example DM",                     DMAcc/<X>/Name (default: serverId)
 *     "account": "ExampleDM",                   <X> (default: serverId with [^A-Za-z0-9._-] -> _)
 *     "address": "https://dm.example.com/dm",   AppAddr/1/Addr
 *     "addrType": "URI",                        AppAddr/1/AddrType: URI | IPv4 | IPv6 | E164 | ALPHA
 *     "port": 443,                              AppAddr/1/Port/1/PortNbr (optional)
 *     "authPref": "DIGEST",                     AAuthPref (default: the client credential's type)
 *     "clientCredential": { "type": "DIGEST", "name": "dev01", "secret": "...", "data": "<b64 nonce>" },
 *     "serverCredential": { "type": "DIGEST", "name": "com.example.dm", "secret": "...", "data": "..." },
 *     "connectivity": { "prefConRef": "./ConnMO/APN1", "toConRefs": ["./ConnMO/APN1"] },
 *     "extraNodes": [{ "uri": "./Vendor/Lab/Mode", "format": "chr", "value": "test" }],
 *     "form": "dmacc" | "tnds",                 Add items per node, or one TNDS document
 *     "operation": "Add" | "Replace",
 *     "dmVersion": "1.2" | "1.3",
 *     "target": "IMEI:356938035643809"         SyncHdr Target (default "*": any device)
 *   }
 * DMAcc leaf names and values follow OMA-TS-DM_StdObj-V1_2 (DMAcc MO, urn:oma:mo:oma-dm-dmacc:1.0).
 */
import { isIP } from 'node:net';
import { isValidServerId } from '../tree/acl.js';
import { HANDSET_LIMITS, accountNodeName } from '../tree/mos.js';
import { nodeNameProblem, parseUri, utf8Length } from '../tree/uri.js';
import { checkValue, isDmFormat, DM_FORMATS } from '../tree/values.js';

export const AUTH_TYPES = ['HTTP-BASIC', 'HTTP-DIGEST', 'BASIC', 'DIGEST', 'HMAC', 'X509', 'SECURID', 'SAFEWORD', 'DIGIPASS', 'TRANSPORT'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
export const ADDR_TYPES = ['URI', 'IPv4', 'IPv6', 'E164', 'ALPHA'] as const;
export type AddrType = (typeof ADDR_TYPES)[number];

export interface ProfileCredential {
  type?: AuthType;
  name: string;
  secret: string;
  /** AAuthData: the nonce, base64. */
  data?: string;
}

export interface ExtraNode {
  uri: string;
  /** Default chr; `node` for an interior node. */
  format?: string;
  type?: string;
  value?: string;
}

export interface BootstrapProfile {
  serverId: string;
  name?: string;
  account?: string;
  address: string;
  addrType?: AddrType;
  port?: number;
  authPref?: AuthType;
  clientCredential: ProfileCredential;
  serverCredential: ProfileCredential;
  connectivity?: { prefConRef?: string; toConRefs?: string[] };
  extraNodes?: ExtraNode[];
  form?: 'dmacc' | 'tnds';
  operation?: 'Add' | 'Replace';
  dmVersion?: '1.2' | '1.3';
  target?: string;
}

export interface FieldError {
  /** JSON path of the field, e.g. `clientCredential.secret`, `extraNodes[1].uri`. */
  field: string;
  message: string;
}

export class ProfileError extends Error {
  constructor(
    readonly errors: FieldError[],
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    this.name = 'ProfileError';
  }
}

const TOP_FIELDS = ['serverId', 'name', 'account', 'address', 'addrType', 'port', 'authPref', 'clientCredential', 'serverCredential', 'connectivity', 'extraNodes', 'form', 'operation', 'dmVersion', 'target', 'id', 'description'] as const;
const CRED_FIELDS = ['type', 'name', 'secret', 'data'] as const;
const CONN_FIELDS = ['prefConRef', 'toConRefs'] as const;
const EXTRA_FIELDS = ['uri', 'format', 'type', 'value'] as const;

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Closest known name, for "did you mean" (edit distance <= 2). */
function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length]![b.length]!;
}

/**
 * Check a parsed JSON value as a bootstrap profile. Returns the typed profile, or throws ProfileError
 * listing every field at fault (not only the first), each with its JSON path.
 */
export function validateProfile(input: unknown, source?: string): BootstrapProfile {
  const errors: FieldError[] = [];
  const err = (field: string, message: string): void => {
    errors.push({ field, message });
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ProfileError([{ field: '$', message: 'a profile is a JSON object' }], source);
  const o = input as Record<string, unknown>;

  const unknownFields = (obj: Record<string, unknown>, known: readonly string[], prefix: string): void => {
    for (const k of Object.keys(obj)) {
      if (known.includes(k)) continue;
      const s = suggest(k, known);
      err(`${prefix}${k}`, `unknown field${s ? ` (did you mean "${s}"?)` : ''}`);
    }
  };
  unknownFields(o, TOP_FIELDS, '');

  const str = (field: string, v: unknown, required: boolean): string | undefined => {
    if (v === undefined) {
      if (required) err(field, 'required');
      return undefined;
    }
    if (typeof v !== 'string') {
      err(field, `must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    if (required && v.length === 0) err(field, 'must not be empty');
    return v;
  };
  const oneOf = <T extends string>(field: string, v: unknown, values: readonly T[]): T | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      err(field, `must be one of ${values.join(', ')}; got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v as T;
  };

  const serverId = str('serverId', o.serverId, true);
  if (serverId && !isValidServerId(serverId)) err('serverId', `${JSON.stringify(serverId)} cannot appear in an ACL (no spaces, '=', '&', '*', '+')`);
  const name = str('name', o.name, false);
  const account = str('account', o.account, false);
  if (account !== undefined) {
    const p = nodeNameProblem(account);
    if (p) err('account', p.why);
    else if (utf8Length(account) > HANDSET_LIMITS.maxSegLen) err('account', `node name is ${utf8Length(account)} bytes, handsets allow ${HANDSET_LIMITS.maxSegLen}`);
  }
  const addrType = oneOf('addrType', o.addrType, ADDR_TYPES) ?? 'URI';
  const address = str('address', o.address, true);
  if (address) {
    const why = addressProblem(address, addrType);
    if (why) err('address', why);
  }
  let port: number | undefined;
  if (o.port !== undefined) {
    if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535) err('port', `must be an integer 1..65535, got ${JSON.stringify(o.port)}`);
    else port = o.port;
  }
  const authPref = oneOf('authPref', o.authPref, AUTH_TYPES);

  const cred = (field: string, v: unknown): ProfileCredential | undefined => {
    if (v === undefined) {
      err(field, 'required');
      return undefined;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      err(field, 'must be an object { type, name, secret, data }');
      return undefined;
    }
    const c = v as Record<string, unknown>;
    unknownFields(c, CRED_FIELDS, `${field}.`);
    const type = oneOf(`${field}.type`, c.type, AUTH_TYPES);
    const n = str(`${field}.name`, c.name, true);
    const secret = str(`${field}.secret`, c.secret, true);
    const data = str(`${field}.data`, c.data, false);
    if (data !== undefined && !B64.test(data)) err(`${field}.data`, 'AAuthData (the nonce) must be base64');
    if (n === undefined || secret === undefined) return undefined;
    const out: ProfileCredential = { name: n, secret };
    if (type) out.type = type;
    if (data !== undefined) out.data = data;
    return out;
  };
  const clientCredential = cred('clientCredential', o.clientCredential);
  const serverCredential = cred('serverCredential', o.serverCredential);

  const dmUri = (field: string, v: string): void => {
    if (v === '') return;
    const u = parseUri(v, HANDSET_LIMITS);
    if (!u.ok) err(field, u.error.message);
    else if (u.value.query) err(field, 'a node URI cannot have a query');
  };
  let connectivity: BootstrapProfile['connectivity'];
  if (o.connectivity !== undefined) {
    if (typeof o.connectivity !== 'object' || o.connectivity === null || Array.isArray(o.connectivity)) err('connectivity', 'must be an object { prefConRef, toConRefs }');
    else {
      const c = o.connectivity as Record<string, unknown>;
      unknownFields(c, CONN_FIELDS, 'connectivity.');
      connectivity = {};
      const pref = str('connectivity.prefConRef', c.prefConRef, false);
      if (pref !== undefined) {
        dmUri('connectivity.prefConRef', pref);
        connectivity.prefConRef = pref;
      }
      if (c.toConRefs !== undefined) {
        if (!Array.isArray(c.toConRefs)) err('connectivity.toConRefs', 'must be an array of URIs');
        else {
          connectivity.toConRefs = [];
          c.toConRefs.forEach((r, i) => {
            const s = str(`connectivity.toConRefs[${i}]`, r, true);
            if (s !== undefined) {
              dmUri(`connectivity.toConRefs[${i}]`, s);
              connectivity!.toConRefs!.push(s);
            }
          });
        }
      }
    }
  }

  let extraNodes: ExtraNode[] | undefined;
  if (o.extraNodes !== undefined) {
    if (!Array.isArray(o.extraNodes)) err('extraNodes', 'must be an array of { uri, format, type, value }');
    else {
      extraNodes = [];
      o.extraNodes.forEach((x, i) => {
        const f = `extraNodes[${i}]`;
        if (typeof x !== 'object' || x === null || Array.isArray(x)) {
          err(f, 'must be an object { uri, format, type, value }');
          return;
        }
        const e = x as Record<string, unknown>;
        unknownFields(e, EXTRA_FIELDS, `${f}.`);
        const uri = str(`${f}.uri`, e.uri, true);
        if (uri) {
          const u = parseUri(uri, HANDSET_LIMITS);
          if (!u.ok) err(`${f}.uri`, u.error.message);
          else if (u.value.query) err(`${f}.uri`, 'a node URI cannot have a query');
          else if (u.value.segments.length === 0) err(`${f}.uri`, 'the root cannot be bootstrapped');
        }
        const format = str(`${f}.format`, e.format, false) ?? 'chr';
        if (!isDmFormat(format)) err(`${f}.format`, `must be one of ${DM_FORMATS.join(', ')}; got ${JSON.stringify(format)}`);
        const type = str(`${f}.type`, e.type, false);
        const value = str(`${f}.value`, e.value, false);
        if (isDmFormat(format)) {
          if (format === 'node' && value !== undefined) err(`${f}.value`, 'an interior node (format node) has no value');
          else if (format !== 'node') {
            const ok = checkValue(format, format === 'bin' ? undefined : (value ?? ''));
            if (typeof ok === 'string') err(`${f}.value`, ok);
          }
        }
        if (uri) {
          const n: ExtraNode = { uri, format };
          if (type !== undefined) n.type = type;
          if (value !== undefined) n.value = value;
          extraNodes!.push(n);
        }
      });
    }
  }
  const form = oneOf('form', o.form, ['dmacc', 'tnds'] as const);
  const operation = oneOf('operation', o.operation, ['Add', 'Replace'] as const);
  const dmVersion = oneOf('dmVersion', o.dmVersion, ['1.2', '1.3'] as const);
  const target = str('target', o.target, false);
  if (target === '') err('target', 'must not be empty (omit it for "*")');
  str('id', o.id, false);
  str('description', o.description, false);

  if (errors.length > 0) throw new ProfileError(errors, source);
  const p: BootstrapProfile = { serverId: serverId!, address: address!, clientCredential: clientCredential!, serverCredential: serverCredential! };
  if (name !== undefined) p.name = name;
  if (account !== undefined) p.account = account;
  if (o.addrType !== undefined) p.addrType = addrType;
  if (port !== undefined) p.port = port;
  if (authPref) p.authPref = authPref;
  if (connectivity) p.connectivity = connectivity;
  if (extraNodes) p.extraNodes = extraNodes;
  if (form) p.form = form;
  if (operation) p.operation = operation;
  if (dmVersion) p.dmVersion = dmVersion;
  if (target !== undefined) p.target = target;
  return p;
}

function addressProblem(address: string, type: AddrType): string | undefined {
  switch (type) {
    case 'URI': {
      let u: URL;
      try {
        u = new URL(address);
      } catch {
        return `${JSON.stringify(address)} is not a URI (e.g. https://dm.example.com/dm)`;
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme ${u.protocol} is not http: or https: (DM servers are reached over HTTP(S))`;
      if (!u.hostname) return 'the URI has no host';
      return undefined;
    }
    case 'IPv4':
      return isIP(address) === 4 ? undefined : `${JSON.stringify(address)} is not an IPv4 address`;
    case 'IPv6':
      return isIP(address) === 6 ? undefined : `${JSON.stringify(address)} is not an IPv6 address`;
    case 'E164':
      return /^\+?[0-9]{3,15}$/.test(address) ? undefined : `${JSON.stringify(address)} is not an E.164 number`;
    case 'ALPHA':
      return address.length > 0 ? undefined : 'empty';
  }
}

/** Parse profile JSON text; errors name the file and, for syntax errors, the position. */
export function parseProfile(text: string, source?: string): BootstrapProfile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ProfileError([{ field: '$', message: `not JSON: ${(e as Error).message}` }], source);
  }
  return validateProfile(json, source);
}

/** The account's node name (<X> of ./DMAcc/<X>). */
export function profileAccount(p: BootstrapProfile): string {
  return p.account ?? accountNodeName(p.serverId);
}
