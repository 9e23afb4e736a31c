/**
 * The throwaway cluster the PostgreSQL store's tests run on (test/helpers/postgres.ts): it starts as
 * an unprivileged user, answers queries on 127.0.0.1, and leaves nothing behind when stopped.
 */
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('postgres helper');

describe.skipIf(!run)('a throwaway PostgreSQL cluster', () => {
  let db: TestPostgres | undefined;
  afterAll(() => db?.stop());

  it('starts, answers a query over 127.0.0.1, runs unprivileged, then stops and removes its folder', async () => {
    db = await startPostgres();
    expect(db.url).toMatch(/^postgres:\/\/[^@]+@127\.0\.0\.1:\d+\/dmw_test$/);
    expect(statSync(db.dir).isDirectory()).toBe(true);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const r = await c.query<{ db: string; su: string; answer: number }>(`SELECT current_database() AS db, current_setting('is_superuser') AS su, 6 * 7 AS answer`);
    expect(r.rows[0]).toEqual({ db: 'dmw_test', su: 'on', answer: 42 });
    // The server process itself is not root (initdb and postgres refuse root).
    const owner = await c.query<{ u: string }>(`SELECT pg_catalog.current_setting('data_directory') AS u`);
    expect(owner.rows[0]!.u.startsWith(db.dir)).toBe(true);
    await c.end();
    if (process.getuid?.() === 0) expect(statSync(db.dir).uid).not.toBe(0);

    const { dir, port } = db;
    db.stop();
    expect(existsSync(dir)).toBe(false);
    // Nobody listens on its port any more.
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(false); });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    db.stop(); // twice is harmless
  });
});
