/** The SQLite store's prepared statements, shared by its tables (devices.ts, jobs.ts, ...). */
import type Database from 'better-sqlite3';

export class Statements {
  private readonly byText = new Map<string, Database.Statement>();
  /** Statements whose text depends on a count or a choice of columns, by a short key (shaped()). */
  private readonly byShape = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  /** A statement prepared once per SQL text: preparing costs more than running these small statements. */
  sql(text: string): Database.Statement {
    let st = this.byText.get(text);
    if (st === undefined) {
      st = this.db.prepare(text);
      this.byText.set(text, st);
    }
    return st;
  }

  /**
   * A statement whose text depends on a count (rows, ids) or a choice of columns: prepared once per
   * `key`, its text built only then (sql() would build it and hash it, some hundreds of characters, every call).
   */
  shaped(key: string, text: () => string): Database.Statement {
    let st = this.byShape.get(key);
    if (st === undefined) {
      st = this.db.prepare(text());
      this.byShape.set(key, st);
    }
    return st;
  }
}
