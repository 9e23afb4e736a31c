/**
 * `dmw`: the workbench from a shell. Each command group lives in its own module; this file only
 * dispatches and turns failures into one line on stderr and an exit status (never a stack trace).
 */
import { CliError } from './errors.js';
import { codecCommand } from './codec.js';
import { HelpRequested } from './subcommands.js';

type CommandGroup = (args: string[]) => Promise<number> | number;

/** Every command group (exported for the CLI test that walks them all). */
export const GROUPS: Record<string, { run: CommandGroup; summary: string }> = {
  codec: { run: codecCommand, summary: 'decode, encode, inspect and benchmark SyncML DM messages (XML / WBXML)' },
  // Loaded on use: the card group is the only one that may load the pcsclite addon (and only then).
  bootstrap: { run: async (a) => (await import('./bootstrap.js')).bootstrapCommand(a), summary: 'bootstrap profiles -> DM bootstrap messages (WBXML, XML preview), check, diff, store' },
  card: { run: async (a) => (await import('./card.js')).cardCommand(a), summary: 'SIM/UICC readers; read, write (verified) and emulate DM bootstrap cards' },
  tree: { run: async (a) => (await import('./tree.js')).treeCommand(a), summary: 'a handset DM tree in a file: init, run a server package against it, show, TNDS export/import' },
  sim: { run: async (a) => (await import('./sim.js')).simCommand(a), summary: 'virtual handsets: N client-initiated DM sessions against a server (HTTP/HTTPS)' },
  handset: { run: async (a) => (await import('./handset.js')).handsetCommand(a), summary: 'one long-running virtual handset: package #0 listener and the client-app interface (DM-7/DM-8)' },
  server: { run: async (a) => (await import('./server.js')).serverCommand(a), summary: 'run the DM server (HTTP/HTTPS) in the foreground, logging sessions' },
  job: { run: async (a) => (await import('./job.js')).jobCommand(a), summary: 'queue, list and clear jobs for devices (works while the server runs)' },
  session: { run: async (a) => (await import('./session.js')).sessionCommand(a), summary: 'list sessions and show their decoded message log' },
  conformance: { run: async (a) => (await import('./conformance.js')).conformanceCommand(a), summary: 'conformance test plans: list a plan\'s cases, run one against a device (JUnit/HTML reports)' },
  capture: { run: async (a) => (await import('./capture.js')).captureCommand(a), summary: 'import DM sessions from pcap/pcapng captures (tcpdump, Wireshark) or session bundles' },
  ca: { run: async (a) => (await import('./server.js')).caCommand(a), summary: 'the lab CA: issue device certificates for HTTPS mutual authentication' },
  notify: { run: async (a) => (await import('./notify.js')).notifyCommand(a), summary: 'build and parse notification package #0 (DM-1), digest included' },
  push: { run: async (a) => (await import('./push.js')).pushCommand(a), summary: 'WAP push over SMS through a modem: DM notification and OTA bootstrap (DM-1, DM-4)' },
  serial: { run: async (a) => (await import('./serial.js')).serialCommand(a), summary: 'serial ports and handsets: list, AT commands, identity, SIM APDUs, console, simulated modem' },
  sms: { run: async (a) => (await import('./sms.js')).smsCommand(a), summary: 'decode captured SMS-SUBMIT / SMS-DELIVER PDUs (UDH, WAP push, package #0)' },
};

export const USAGE = `usage: dmw <command> [args]

commands:
${Object.entries(GROUPS).map(([name, g]) => `  ${name.padEnd(8)} ${g.summary}`).join('\n')}

Run \`dmw <command> --help\` for the command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [group, ...rest] = argv;
  if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return group === undefined ? 2 : 0;
  }
  const g = GROUPS[group];
  if (!g) {
    process.stderr.write(`dmw: unknown command "${group}"\n${USAGE}\n`);
    return 2;
  }
  try {
    return await g.run(rest);
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(`${e.usage}\n`);
      return 0;
    }
    if (e instanceof CliError) {
      process.stderr.write(`dmw: ${e.message}\n`);
      return e.exitCode;
    }
    // A bug of ours, not bad input: still one line, the stack only on request.
    process.stderr.write(`dmw: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.DMW_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
