/**
 * `dmw tree init|run|show|export|import`: a handset's DM tree in a file, and server packages run
 * against it (dry runs of management scripts before they go to a real handset).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describeCodecError } from '../protocol/errors.js';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import { serializeXml } from '../protocol/xml/serialize.js';
import { writeMessage } from '../protocol/message/write.js';
import { ACL_COMMANDS } from '../tree/acl.js';
import { readDdf, type DdfSchema } from '../tree/ddf.js';
import { addDmAccount, createDeviceTree, findAccount, accountNodeName, type DmAccountSpec } from '../tree/mos.js';
import { TreeFileError, loadTreeSync, saveTreeSync } from '../tree/persist.js';
import { TNDS_EXPORT_ALL, exportTnds, importTnds, readTnds, tndsToXml } from '../tree/tnds.js';
import { DEVICE, TreeError, accessNames, formatTStamp, type DmTree, type DmNode } from '../tree/tree.js';
import { valueText } from '../tree/values.js';
import {
  defaultResponder,
  noUiResponder,
  processPackage,
  timeoutResponder,
  type AlertResponder,
  type ExecHandler,
  type ProcessEvent,
} from '../tree/processor/index.js';
import { CliError } from './errors.js';
import { displayName, readInput, writeOutput } from './io.js';
import { parseCommandArgs, runSubcommand } from './subcommands.js';
import { applyDmaccAcl, DMACC_ACL_FLAG, dmaccAclFlag } from './dmacc-acl.js';

const HELP = `usage:
  dmw tree init -o TREE.json [--account SERVERID[:NAME:SECRET]]... [--devid ID] [--dmacc-acl ACL]
        a handset tree with DevInfo, DevDetail, DMAcc (one account per --account), Inbox
  dmw tree run --tree TREE.json --as SERVERID PACKAGE [--write] [--ui dr|timeout|none] [--exec CODE] [--ddf FILE]...
        process a server package (XML or WBXML) as SERVERID; print the client's response as XML
  dmw tree show TREE.json [PATH] [--acl --as SERVERID] [--secrets]
        print a subtree with its properties; --acl: each command's right for SERVERID and where it comes from
  dmw tree export TREE.json PATH -o OUT.tnds.xml [--as SERVERID]
        the subtree at PATH as TNDS (all properties and values)
  dmw tree import TREE.json PATH IN.tnds.xml [--replace]
        add the TNDS nodes under PATH (a Node's own Path wins); --replace makes the subtree what the file says

--account SERVERID[:NAME:SECRET]: NAME:SECRET are the client's credentials (CLCRED); the server's
  (SRVCRED) are SERVERID:SECRET. Without them a random secret is generated and printed.
--dmacc-acl ACL: the ACL of ./DMAcc (default Get=*), e.g. 'Add=srvA&Get=*': a server with Add there
  may give the device other servers' accounts, which a DM-6 delegation by srvA needs (main/server/API.md).
--ui: UI alerts are answered with their default response (dr, default), time out like the Android
  engine (timeout: 408), or get 406 (none: no UI).
--exec CODE: every Exec the ACLs allow answers CODE (default: 406, nothing bound to Exec).
Bad input exits 2 with one line on stderr. Statuses other than 2xx are listed on stderr.`;

export async function treeCommand(argv: string[]): Promise<number> {
  return runSubcommand('tree', HELP, { init, run, show, export: exportCmd, import: importCmd }, argv);
}

function loadTree(file: string): DmTree {
  try {
    return loadTreeSync(file);
  } catch (e) {
    if (e instanceof TreeFileError) throw new CliError(e.message);
    throw e;
  }
}

function saveTree(tree: DmTree, file: string): void {
  try {
    saveTreeSync(tree, file);
  } catch (e) {
    throw new CliError(`${file}: cannot write: ${(e as Error).message}`);
  }
}

// ------------------------------------------------------------------------------------------- init

function parseAccount(spec: string): { account: DmAccountSpec; generated: boolean } {
  const first = spec.indexOf(':');
  const serverId = first < 0 ? spec : spec.slice(0, first);
  let name: string;
  let secret: string;
  let generated = false;
  if (first < 0) {
    name = serverId;
    secret = randomBytes(12).toString('base64url');
    generated = true;
  } else {
    const second = spec.indexOf(':', first + 1);
    if (second < 0) throw new CliError(`--account ${JSON.stringify(spec)}: expected SERVERID or SERVERID:NAME:SECRET`);
    name = spec.slice(first + 1, second);
    secret = spec.slice(second + 1);
    if (name === '' || secret === '') throw new CliError(`--account ${JSON.stringify(spec)}: NAME and SECRET must not be empty`);
  }
  if (serverId === '') throw new CliError(`--account ${JSON.stringify(spec)}: empty SERVERID`);
  return {
    account: {
      serverId,
      clientCred: { type: 'DIGEST', name, secret },
      serverCred: { type: 'DIGEST', name: serverId, secret },
    },
    generated,
  };
}

async function init(argv: string[]): Promise<number> {
  const usage = 'dmw tree init -o TREE.json [--account SERVERID[:NAME:SECRET]]... [--devid ID] [--dmacc-acl ACL]';
  const { values } = parseCommandArgs(argv, { output: { type: 'string', short: 'o' }, account: { type: 'string', multiple: true }, devid: { type: 'string' }, ...DMACC_ACL_FLAG }, [0, 0], usage);
  if (values.output === undefined) throw new CliError(`-o TREE.json is required\nusage: ${usage}`);
  const dmaccAcl = await dmaccAclFlag(values['dmacc-acl']);
  const accounts = (values.account ?? []).map(parseAccount);
  const ids = new Set<string>();
  for (const a of accounts) {
    if (ids.has(a.account.serverId)) throw new CliError(`--account ${a.account.serverId} given twice`);
    ids.add(a.account.serverId);
  }
  let tree: DmTree;
  try {
    tree = createDeviceTree(values.devid !== undefined ? { devId: values.devid } : {});
    for (const a of accounts) addDmAccount(tree, a.account);
    if (dmaccAcl !== undefined) applyDmaccAcl(tree, dmaccAcl);
  } catch (e) {
    if (e instanceof TreeError) throw new CliError(e.message);
    throw e;
  }
  saveTree(tree, values.output);
  const lines = [`${values.output}: ${tree.countNodes()} nodes, ${accounts.length} account(s)${dmaccAcl !== undefined ? `, ./DMAcc ACL ${dmaccAcl}` : ''}`];
  for (const a of accounts) {
    const c = a.account;
    lines.push(`  ./DMAcc/${accountNodeName(c.serverId)}  ServerID ${c.serverId}  client ${c.clientCred.name}${a.generated ? `  secret ${c.clientCred.secret}` : ''}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

// ------------------------------------------------------------------------------------------- run

function responder(mode: string | undefined): AlertResponder {
  switch (mode ?? 'dr') {
    case 'dr':
      return defaultResponder;
    case 'timeout':
      return timeoutResponder;
    case 'none':
      return noUiResponder;
    default:
      throw new CliError(`--ui must be dr, timeout or none, got ${JSON.stringify(mode)}`);
  }
}

function reportLine(e: ProcessEvent): string {
  const what = [e.cmd, e.target ?? e.source].filter(Boolean).join(' ');
  return `dmw: ${e.status} ${what} (CmdID ${e.cmdId})${e.message ? `: ${e.message}` : ''}\n`;
}

async function run(argv: string[]): Promise<number> {
  const usage = 'dmw tree run --tree TREE.json --as SERVERID PACKAGE [--write] [--ui dr|timeout|none] [--exec CODE] [--ddf FILE]...';
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      tree: { type: 'string' },
      as: { type: 'string' },
      write: { type: 'boolean' },
      ui: { type: 'string' },
      exec: { type: 'string' },
      ddf: { type: 'string', multiple: true },
    },
    [1, 1],
    usage,
  );
  if (values.tree === undefined) throw new CliError(`--tree TREE.json is required\nusage: ${usage}`);
  if (values.as === undefined) throw new CliError(`--as SERVERID is required\nusage: ${usage}`);
  const alert = responder(values.ui);
  let exec: ExecHandler | undefined;
  if (values.exec !== undefined) {
    const code = Number(values.exec);
    if (!/^\d{3}$/.test(values.exec)) throw new CliError(`--exec must be a status code such as 200, got ${JSON.stringify(values.exec)}`);
    exec = () => ({ status: code, message: `--exec ${code}` });
  }
  const schemas: DdfSchema[] = [];
  for (const f of values.ddf ?? []) {
    const r = readDdf(readInput(f));
    if (!r.ok) throw new CliError(`${displayName(f)}: ${r.error.message}`);
    schemas.push(r.value);
  }
  const pkgFile = positionals[0]!;
  const tree = loadTree(values.tree);
  const bytes = readInput(pkgFile);
  const decoded = decodeMessage(bytes);
  if (!decoded.ok) throw new CliError(`${displayName(pkgFile)}: ${describeCodecError(decoded.error)}`);
  for (const w of decoded.value.document.info.warnings ?? []) process.stderr.write(`dmw: ${displayName(pkgFile)}: warning: ${w}\n`);
  const serverId = values.as;
  if (findAccount(tree, serverId) === undefined) {
    process.stderr.write(`dmw: warning: ${values.tree} has no DMAcc account with ServerID ${serverId}; ACLs decide as usual\n`);
  }
  const result = await processPackage(tree, decoded.value.message, {
    serverId,
    alert,
    ...(exec ? { exec } : {}),
    ...(schemas.length > 0 ? { schemas } : {}),
    encoding: decoded.value.encoding,
  });
  for (const e of result.events) if (e.status !== 0 && (e.status < 200 || e.status >= 300)) process.stderr.write(reportLine(e));
  for (const w of result.warnings) process.stderr.write(`dmw: warning: ${w}\n`);
  const incoming = result.session.incoming;
  if (incoming) {
    process.stderr.write(`dmw: note: large object for ${incoming.target} incomplete (${incoming.size}${incoming.declaredSize !== undefined ? ` of ${incoming.declaredSize}` : ''} bytes); its next chunk would come in the server's next message\n`);
  }
  if (result.messages.length === 0) {
    process.stderr.write('dmw: note: the package needs no answer (Final, no commands): a client sends nothing and the session ends\n');
  } else if (result.messages.length > 1) {
    process.stderr.write(`dmw: note: the response spans ${result.messages.length} messages (the server's MaxMsgSize); messages 2.. answer simulated Alert 1222 requests\n`);
  }
  for (const m of result.messages) {
    const doc = writeMessage(m);
    // check that it encodes on the wire form too (a response we could not send is our bug)
    const wire = encodeMessage(m, decoded.value.encoding);
    if (!wire.ok) throw new Error(`cannot encode the response: ${wire.error.message}`);
    writeOutput(undefined, serializeXml(doc, { pretty: true }));
  }
  if (values.write) {
    saveTree(tree, values.tree);
  }
  return 0;
}

// ------------------------------------------------------------------------------------------- show

function show(argv: string[]): number {
  const usage = 'dmw tree show TREE.json [PATH] [--acl --as SERVERID] [--secrets]';
  const { values, positionals } = parseCommandArgs(argv, { acl: { type: 'boolean' }, as: { type: 'string' }, secrets: { type: 'boolean' } }, [1, 2], usage);
  if (values.acl && values.as === undefined) throw new CliError(`--acl needs --as SERVERID (whose rights to explain)\nusage: ${usage}`);
  if (values.as !== undefined && !values.acl) throw new CliError(`--as is used with --acl\nusage: ${usage}`);
  const tree = loadTree(positionals[0]!);
  const path = positionals[1] ?? '.';
  const parsed = tree.parse(path);
  if (!parsed.ok) throw new CliError(parsed.error.message);
  if (parsed.value.query) throw new CliError(`${path}: show takes a node path, without ?prop= or ?list=`);
  const start = tree.resolve(parsed.value.segments);
  if (start === undefined) throw new CliError(`${parsed.value.path} does not exist in ${positionals[0]}`);
  const out: string[] = [];
  tree.walk(start, (n, p, depth) => {
    out.push(describeLine(n, p, depth, values.secrets ?? false));
    if (values.acl) out.push(...rightsLines(tree, values.as!, n, p, depth));
  });
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

function describeLine(n: DmNode, path: string, depth: number, secrets: boolean): string {
  const indent = '  '.repeat(depth);
  const props: string[] = [`format=${n.format}`];
  if (n.type !== '' && !(n.format !== 'node' && n.type === 'text/plain')) props.push(`type=${n.type}`);
  props.push(`acl=${JSON.stringify(n.acl.text)}`);
  if (n.title !== '') props.push(`title=${JSON.stringify(n.title)}`);
  props.push(`verNo=${n.verNo}`);
  if (n.tstamp !== 0) props.push(`tstamp=${formatTStamp(n.tstamp)}`);
  const access = accessNames(n.access);
  if (access.length !== 6) props.push(`access=${access.join(',') || 'none'}`);
  let value = '';
  if (n.format !== 'node') {
    const hidden = (n.access & 8) === 0 && !secrets; // no Get in the access type: a secret
    value = hidden ? ' = (hidden: no Get; --secrets shows it)' : ` = ${JSON.stringify(valueText(n.value))}`;
  }
  return `${indent}${path}  ${props.join(' ')}${value}`;
}

function rightsLines(tree: DmTree, serverId: string, n: DmNode, path: string, depth: number): string[] {
  const indent = '  '.repeat(depth) + '    ';
  const granted: string[] = [];
  const denied: string[] = [];
  let from = '';
  for (const cmd of ACL_COMMANDS) {
    const x = tree.explainAccess(serverId, cmd, path);
    const src = `${x.fromPath}${x.inherited ? ' (inherited)' : ''}`;
    if (from === '') from = `${JSON.stringify(x.rights)} on ${src}`;
    if (x.allowed) granted.push(cmd);
    else denied.push(`${cmd} ${x.status === 405 ? '(access type)' : '(ACL)'}`);
  }
  const aclChange = tree.explainAccess(serverId, 'Replace', `${path}?prop=ACL`);
  return [
    `${indent}${serverId}: ${granted.length ? granted.join(',') : 'no rights'}${denied.length ? `; denied ${denied.join(', ')}` : ''}; rights from ${from}${n.parent === null ? '' : `; may change ACL: ${aclChange.allowed ? 'yes' : 'no'}`}`,
  ];
}

// ------------------------------------------------------------------------------------------- TNDS

function exportCmd(argv: string[]): number {
  const usage = 'dmw tree export TREE.json PATH -o OUT.tnds.xml [--as SERVERID]';
  const { values, positionals } = parseCommandArgs(argv, { output: { type: 'string', short: 'o' }, as: { type: 'string' } }, [2, 2], usage);
  if (values.output === undefined) throw new CliError(`-o OUT.tnds.xml is required\nusage: ${usage}`);
  const tree = loadTree(positionals[0]!);
  const r = exportTnds(tree, values.as ?? DEVICE, positionals[1]!, { flags: TNDS_EXPORT_ALL });
  if (!r.ok) throw new CliError(`${positionals[1]}: ${r.status} ${r.message}`);
  writeOutput(values.output, tndsToXml(r.value));
  return 0;
}

function importCmd(argv: string[]): number {
  const usage = 'dmw tree import TREE.json PATH IN.tnds.xml [--replace]';
  const { values, positionals } = parseCommandArgs(argv, { replace: { type: 'boolean' } }, [3, 3], usage);
  const [treeFile, path, tndsFile] = positionals as [string, string, string];
  if (!existsSync(treeFile)) throw new CliError(`${treeFile}: no such file`);
  const tree = loadTree(treeFile);
  const t = readTnds(readInput(tndsFile));
  if (!t.ok) throw new CliError(`${displayName(tndsFile)}: ${t.error.message}`);
  const r = importTnds(tree, DEVICE, path, t.value, values.replace ? 'replace' : 'add', { keepRuntimeProperties: true });
  if (!r.ok) throw new CliError(`${displayName(tndsFile)}: ${r.status} ${r.message}`);
  saveTree(tree, treeFile);
  const v = r.value;
  process.stdout.write(`${treeFile}: ${v.created.length} node(s) created, ${v.updated.length} updated, ${v.deleted.length} deleted under ${path}\n`);
  return 0;
}
