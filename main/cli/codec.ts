/**
 * `dmw codec decode|encode|inspect|bench`: the contracts lab scripts call.
 */
import { readFileSync } from 'node:fs';
import { describeCodecError, type CodecError } from '../protocol/errors.js';
import { decodeDocument, encodeDocument, locateError, sniffEncoding, type Encoding } from '../protocol/codec.js';
import { readMessage } from '../protocol/message/read.js';
import { serializeXml } from '../protocol/xml/serialize.js';
import { encodeWbxml, formatTokenDump, inspectWbxml } from '../protocol/wbxml/index.js';
import type { Document } from '../protocol/element.js';
import { benchCodec } from './codec-bench.js';
import { CliError } from './errors.js';
import { displayName, readInput, writeOutput } from './io.js';
import { parseCommandArgs, runSubcommand } from './subcommands.js';

const HELP = `usage:
  dmw codec decode FILE|- [--lenient]            print a message (WBXML or XML, sniffed) as pretty XML
  dmw codec encode FILE|- --to wbxml|xml [-o OUT] re-encode a message
  dmw codec inspect FILE                          WBXML token dump (offset, page, token, tag)
  dmw codec bench WBXML_FILE XML_FILE [--iterations N] [--json]
                                                  decode/encode throughput in this process

--lenient: print any well-formed document, even one that is not a valid SyncML DM message. Without it
           the root must be SyncML (a DM message) or MgmtTree (a TNDS tree).
Bad input exits 2 with one line on stderr: "dmw: FILE: <reason> at byte N" (or "line L:C").`;

export async function codecCommand(argv: string[]): Promise<number> {
  return runSubcommand('codec', HELP, { decode, encode, inspect, bench }, argv);
}

function badInput(file: string, e: CodecError): never {
  throw new CliError(`${displayName(file)}: ${describeCodecError(e)}`);
}

/** The documents `decode` and `encode` are for: a DM message, or a DM tree in TNDS form. */
const DM_ROOTS = ['SyncML', 'MgmtTree'] as const;

/**
 * Any other root is refused, so that a page or a stray XML file is not printed as a message with a
 * SyncML namespace added. Where the root element starts is found the same way a model error's is.
 */
function foreignRoot(bytes: Uint8Array, document: Document): CodecError | undefined {
  const name = document.root.name;
  if ((DM_ROOTS as readonly string[]).includes(name)) return undefined;
  const message = `the root element is <${name}>, not ${DM_ROOTS.join(' or ')} (a DM message or a TNDS tree; --lenient prints any well-formed document)`;
  if (sniffEncoding(bytes) === 'wbxml') {
    const root = inspectWbxml(bytes).tokens.find((t) => t.kind === 'TAG' || t.kind === 'LITERAL');
    return { code: 'unexpected-content', message, ...(root ? { offset: root.offset } : {}) };
  }
  // The path only serves to find the element; the message already names it.
  const { path: _, ...located } = locateError(bytes, { code: 'unexpected-content', message, path: name });
  return located;
}

function load(file: string, lenient: boolean) {
  const bytes = readInput(file);
  const r = decodeDocument(bytes);
  if (!r.ok) badInput(file, r.error);
  if (!lenient) {
    const foreign = foreignRoot(bytes, r.value.document);
    if (foreign) badInput(file, foreign);
  }
  for (const w of r.value.document.info.warnings ?? []) process.stderr.write(`dmw: ${displayName(file)}: warning: ${w}\n`);
  // A SyncML message is checked against the model so that a broken package is reported, not printed.
  if (!lenient && r.value.document.root.name === 'SyncML') {
    const m = readMessage(r.value.document.root);
    if (!m.ok) badInput(file, locateError(bytes, m.error));
  }
  return r.value;
}

function decode(argv: string[]): number {
  const usage = 'dmw codec decode FILE|- [--lenient]';
  const { positionals, values } = parseCommandArgs(argv, { lenient: { type: 'boolean' } }, 1, usage);
  const file = positionals[0]!;
  const { document } = load(file, values.lenient ?? false);
  writeOutput(undefined, serializeXml(document, { pretty: true }));
  return 0;
}

function encode(argv: string[]): number {
  const usage = 'dmw codec encode FILE|- --to wbxml|xml [-o OUT] [--lenient]';
  const { positionals, values } = parseCommandArgs(argv, { to: { type: 'string' }, output: { type: 'string', short: 'o' }, lenient: { type: 'boolean' } }, 1, usage);
  const to = values.to;
  if (to !== 'wbxml' && to !== 'xml') throw new CliError(`--to must be wbxml or xml\nusage: ${usage}`);
  const file = positionals[0]!;
  const { document } = load(file, values.lenient ?? false);
  const out = encodeDocument(document, to as Encoding, { pretty: true });
  if (!out.ok) badInput(file, out.error);
  writeOutput(values.output, out.value);
  return 0;
}

function inspect(argv: string[]): number {
  const usage = 'dmw codec inspect FILE';
  const { positionals } = parseCommandArgs(argv, {}, 1, usage);
  const file = positionals[0]!;
  let bytes = readInput(file);
  if (sniffEncoding(bytes) === 'xml') {
    // For XML input, show the WBXML we would put on the wire for it.
    const { document } = load(file, true);
    const w = encodeWbxml(document);
    if (!w.ok) badInput(file, w.error);
    process.stdout.write(`# ${displayName(file)} is XML; tokens of its WBXML encoding (${w.value.length} bytes):\n`);
    bytes = w.value;
  }
  // The dump shows every token read before a fault, so the engineer sees where it broke.
  const r = inspectWbxml(bytes);
  process.stdout.write(formatTokenDump(r.tokens));
  if (r.error) badInput(file, r.error);
  return 0;
}

function bench(argv: string[]): number {
  const usage = 'dmw codec bench WBXML_FILE XML_FILE [--iterations N] [--json]';
  const { positionals, values } = parseCommandArgs(argv, { iterations: { type: 'string' }, json: { type: 'boolean' } }, 2, usage);
  const [wbxmlFile, xmlFile] = positionals as [string, string];
  let iterations: number | undefined;
  if (values.iterations !== undefined) {
    iterations = Number(values.iterations);
    if (!Number.isInteger(iterations) || iterations < 1) throw new CliError(`--iterations must be a positive integer, got "${values.iterations}"`);
  }
  const wbxml = readInput(wbxmlFile);
  const xml = new TextDecoder().decode(readFileSync(xmlFile === '-' ? 0 : xmlFile));
  let r;
  try {
    r = benchCodec(wbxml, xml, iterations === undefined ? {} : { iterations });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (values.json) {
    const { decode_MBps, encode_MBps, decode_us_per_msg, encode_us_per_msg } = r;
    process.stdout.write(`${JSON.stringify({ decode_MBps, encode_MBps, decode_us_per_msg, encode_us_per_msg })}\n`);
  } else {
    process.stdout.write(
      `decode (WBXML -> XML text): ${r.decode_MBps.toFixed(1)} MB/s, ${r.decode_us_per_msg.toFixed(2)} µs/msg\n` +
        `encode (XML text -> WBXML): ${r.encode_MBps.toFixed(1)} MB/s, ${r.encode_us_per_msg.toFixed(2)} µs/msg\n`,
    );
  }
  return 0;
}
