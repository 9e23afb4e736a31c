/**
 * A server for the server benchmark, in its own process so its RSS is its own:
 *
 *   node --import tsx test/bench/server-child.ts dm '{"dataDir": "...", ...DmServerOptions}'
 *   node --import tsx test/bench/server-child.ts bare '{"responseBytes": 450}'
 *
 * `dm` with `"whatIf": "no-store-writes"` (store-what-if.ts) or `"floor"` / `"floor+index"` (floor-server.ts) is a
 * diagnostic, not the product.
 *
 * `dm` is our DmServer; `bare` is the baseline: a plain node:http server answering every POST with
 * a fixed body (no parsing, no store). Prints one JSON line {url, pid} once listening; stops on
 * SIGTERM or when stdin closes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

async function main(): Promise<void> {
  const [mode, json] = process.argv.slice(2);
  const opts = JSON.parse(json ?? '{}') as Record<string, unknown>;
  let close!: () => Promise<void>;
  let url!: string;
  if (mode === 'dm') {
    const { whatIf, ...serverOpts } = opts;
    if (whatIf === 'floor' || whatIf === 'floor+index') {
      const { startFloorServer } = await import('./floor-server.js');
      const floor = await startFloorServer({ ...(serverOpts as unknown as Parameters<typeof startFloorServer>[0]), index: whatIf === 'floor+index' });
      url = floor.url;
      close = () => floor.close();
    } else if (whatIf === 'no-store-writes') {
      const { ServerStore } = await import('../../main/store/server-store.js');
      const { withoutStoreWrites } = await import('./store-what-if.js');
      withoutStoreWrites(ServerStore);
    } else if (whatIf !== undefined) throw new Error(`whatIf must be no-store-writes, floor or floor+index, got ${String(whatIf)}`);
    if (whatIf !== 'floor' && whatIf !== 'floor+index') {
      const { DmServer } = await import('../../main/server/server.js');
      const server = await DmServer.start({ port: 0, host: '127.0.0.1', ...(serverOpts as { dataDir: string }) });
      url = server.url;
      close = () => server.close();
    }
  } else if (mode === 'bare') {
    const body = Buffer.alloc(Number(opts.responseBytes ?? 450), 0x61);
    const server = http.createServer((req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/vnd.syncml.dm+wbxml', 'content-length': String(body.length) });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dm`;
    close = () => new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  } else throw new Error(`mode must be dm or bare, got ${mode}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ url, pid: process.pid })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`server-child: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
