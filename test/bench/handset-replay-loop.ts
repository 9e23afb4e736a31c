/**
 * The replay of handset-replay.ts as a plain loop, for instruction counts (callgrind) of one
 * checkout's handset code: `handset-replay.ts --save FILE` records the session; this replays it
 * COUNT times and prints a checksum. Bundled with esbuild per checkout so that valgrind runs plain
 * JavaScript:
 *
 *   npx esbuild test/bench/handset-replay-loop.ts --bundle --platform=node --format=esm --outfile=/tmp/loop.mjs
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded /tmp/loop.mjs FILE COUNT [--listen]
 *
 * (COUNT 400 minus COUNT 200, over 400 round trips: instructions per round trip, start-up cancelled.)
 */
import { readFileSync } from 'node:fs';
import { VirtualHandset } from '../../main/client/handset.js';
import { HandsetPool } from '../../main/client/pool.js';
import { DEVICE } from '../../main/tree/tree.js';

interface Saved { url: string; devId: string; nonce: string; sessionId: string; client: { name: string; secret: string }; server: { name: string; secret: string }; replies: { status: number; headers: Record<string, string>; body: string }[] }

async function main(): Promise<void> {
  const [file, countText] = process.argv.slice(2);
  const rec = JSON.parse(readFileSync(file!, 'utf8')) as Saved;
  const replies = rec.replies.map((r) => ({ status: r.status, headers: r.headers, body: new Uint8Array(Buffer.from(r.body, 'base64')) }));
  const h = await VirtualHandset.open({
    encoding: 'wbxml',
    nonce: () => rec.nonce,
    device: { devId: rec.devId, accounts: [{ serverId: 'dmw', addr: rec.url, clientCred: { type: 'DIGEST', ...rec.client }, serverCred: { type: 'DIGEST', ...rec.server } }] },
  });
  const r = h.tree.add(DEVICE, './Vendor/Mode', { format: 'chr', value: 'turbo', createParents: true, acl: 'Get=*&Replace=*' });
  if (!r.ok) throw new Error(r.message);
  // As in the server suite: in a pool (which subscribes to the handset); --listen: someone listens to it.
  const pool = await HandsetPool.create({ notify: false });
  pool.adopt(h);
  if (process.argv.includes('--listen')) pool.events.on(() => undefined);
  let i = 0;
  (h as unknown as { transport: unknown }).transport = { post: async () => replies[i++ % replies.length]!, close: () => undefined };
  let rts = 0;
  let ok = 0;
  for (let n = 0, count = Number(countText); n < count; n++) {
    i = 0;
    const o = await h.connect({ serverId: 'dmw', sessionId: rec.sessionId });
    rts += o.roundTrips;
    if (o.ok && o.log.length === 2) ok++;
  }
  console.log(JSON.stringify({ sessions: Number(countText), ok, roundTrips: rts }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
