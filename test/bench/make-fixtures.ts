/**
 * Regenerates the codec benchmark fixtures in test/fixtures/bench/:
 *   - dm12-lobj-200k.xml: a ~200 KB large-object package (first chunk of a firmware package: a Replace
 *     whose Item carries Meta Format b64 / Type / Size, ~150 KB of firmware bytes as base64, MoreData),
 *     generated here from a fixed seed so it is the same on every machine;
 *   - X.wbxml for every X.xml fixture (dm12-server-2k is hand-written), derived with libwbxml's
 *     `xml2wbxml -v 1.2 -n`, so that both sides of the benchmark measure the very same document.
 * Each .wbxml is then read back with `wbxml2xml` to be sure libwbxml accepts it.
 *
 *   npx tsx test/bench/make-fixtures.ts           write the fixtures
 *   npx tsx test/bench/make-fixtures.ts --check   exit 1 if a committed fixture differs from a fresh one
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_FIXTURE_DIR, GENERATED_FIXTURES } from './fixtures.js';

/** Firmware bytes in the large object (150,000 bytes -> 200,000 base64 characters). */
const CHUNK_BYTES = 150_000;
/** The whole firmware package the chunk belongs to (Meta Size of the first chunk). */
const PACKAGE_BYTES = 1_048_576;

/** xorshift32: deterministic "compressed firmware" bytes without depending on Node's RNG. */
function firmwareChunk(n: number, seed = 0x2545f491): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function largeObjectXml(): string {
  const b64 = Buffer.from(firmwareChunk(CHUNK_BYTES)).toString('base64');
  return `<?xml version="1.0" encoding="UTF-8"?>
<SyncML xmlns="SYNCML:SYNCML1.2">
  <SyncHdr>
    <VerDTD>1.2</VerDTD>
    <VerProto>DM/1.2</VerProto>
    <SessionID>4E2B</SessionID>
    <MsgID>3</MsgID>
    <Target><LocURI>IMEI:356938035643809</LocURI></Target>
    <Source><LocURI>https://dm.lab.example.net:8443/oma-dm</LocURI></Source>
    <Cred>
      <Meta><Format xmlns="syncml:metinf">b64</Format><Type xmlns="syncml:metinf">syncml:auth-md5</Type></Meta>
      <Data>cW9uM0x2b1R6a1dRZ1BzM2Z5Ukp4QT09</Data>
    </Cred>
    <Meta><MaxMsgSize xmlns="syncml:metinf">262144</MaxMsgSize><MaxObjSize xmlns="syncml:metinf">4194304</MaxObjSize></Meta>
  </SyncHdr>
  <SyncBody>
    <Status><CmdID>1</CmdID><MsgRef>2</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><TargetRef>https://dm.lab.example.net:8443/oma-dm</TargetRef><SourceRef>IMEI:356938035643809</SourceRef><Data>200</Data></Status>
    <Replace>
      <CmdID>2</CmdID>
      <Item>
        <Target><LocURI>./FUMO/Pkg1/Update/PkgData</LocURI></Target>
        <Meta><Format xmlns="syncml:metinf">b64</Format><Type xmlns="syncml:metinf">application/vnd.oma.dm.fw-delta</Type><Size xmlns="syncml:metinf">${PACKAGE_BYTES}</Size></Meta>
        <Data>${b64}</Data>
        <MoreData/>
      </Item>
    </Replace>
  </SyncBody>
</SyncML>
`;
}

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') {
      throw new Error(`${cmd} not found: install libwbxml2-utils (Debian/Ubuntu: apt-get install libwbxml2-utils)`);
    }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.toString().trim() ?? err.message}`);
  }
}

/** Writes every fixture into `dir`; returns the file names written. */
export function makeFixtures(dir: string): string[] {
  const written: string[] = [];
  const lobj = GENERATED_FIXTURES.find((f) => f.id === 'dm12-lobj-200k');
  if (lobj) {
    writeFileSync(join(dir, basename(lobj.xmlPath)), largeObjectXml());
    written.push(basename(lobj.xmlPath));
  }
  for (const f of GENERATED_FIXTURES) {
    const xmlIn = existsSync(join(dir, basename(f.xmlPath))) ? join(dir, basename(f.xmlPath)) : f.xmlPath;
    const wbxmlOut = join(dir, basename(f.wbxmlPath));
    run('xml2wbxml', ['-v', '1.2', '-n', '-o', wbxmlOut, xmlIn]);
    run('wbxml2xml', ['-m', '0', '-o', join(dir, `${f.id}.roundtrip.xml`), wbxmlOut]);
    rmSync(join(dir, `${f.id}.roundtrip.xml`), { force: true });
    written.push(basename(f.wbxmlPath));
  }
  return written;
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  if (!check) {
    for (const name of makeFixtures(BENCH_FIXTURE_DIR)) {
      const size = readFileSync(join(BENCH_FIXTURE_DIR, name)).length;
      console.log(`wrote test/fixtures/bench/${name} (${size} bytes)`);
    }
    return 0;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'dmw-bench-fixtures-'));
  try {
    let stale = 0;
    for (const name of makeFixtures(tmp)) {
      const committed = join(BENCH_FIXTURE_DIR, name);
      const same = existsSync(committed) && readFileSync(committed).equals(readFileSync(join(tmp, name)));
      if (!same) {
        stale++;
        console.error(`test/fixtures/bench/${name} is missing or stale: run npx tsx test/bench/make-fixtures.ts`);
      }
    }
    if (stale === 0) console.log('bench fixtures are up to date');
    return stale === 0 ? 0 : 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`make-fixtures: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
