import type { Connection } from 'mysql2/promise';

/**
 * Bulk loading for the data benchmark (docs/data.md, "The data benchmark"): the way a restore
 * loads a big table. Row-by-row maintenance of a dozen secondary indexes (and a FULLTEXT index)
 * into a small buffer pool is random I/O per row; building each index afterwards by sorting is
 * sequential. So `bulkLoad` takes the tables' secondary indexes and triggers off, runs the load,
 * puts back exactly the same indexes and triggers, sets the status counters and `job_errors` from
 * the rows, and checks that each table's definition is what it was.
 */

interface IndexColumn {
  name: string;
  column: string;
  seq: number;
  subPart: number | null;
  nonUnique: number;
  type: string;
  collation: string | null;
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

async function secondaryIndexes(db: Connection, table: string): Promise<Map<string, IndexColumn[]>> {
  const [rows] = await db.query(
    `SELECT INDEX_NAME AS name, COLUMN_NAME AS \`column\`, SEQ_IN_INDEX AS seq, SUB_PART AS subPart,
            NON_UNIQUE AS nonUnique, INDEX_TYPE AS type, COLLATION AS collation
     FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME NOT IN ('PRIMARY', 'FTS_DOC_ID_INDEX')
     ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [table],
  );
  const byName = new Map<string, IndexColumn[]>();
  for (const row of rows as IndexColumn[]) byName.set(row.name, [...(byName.get(row.name) ?? []), row]);
  return byName;
}

function addClause(name: string, cols: IndexColumn[]): string {
  const first = cols[0] as IndexColumn;
  const kind = first.type === 'FULLTEXT' ? 'FULLTEXT INDEX' : first.nonUnique ? 'INDEX' : 'UNIQUE INDEX';
  const parts = cols.map(
    (c) => `${quote(c.column)}${c.subPart ? `(${c.subPart})` : ''}${c.collation === 'D' ? ' DESC' : ''}`,
  );
  return `ADD ${kind} ${quote(name)} (${parts.join(', ')})`;
}

async function showCreate(db: Connection, table: string): Promise<string> {
  const [rows] = await db.query(`SHOW CREATE TABLE ${quote(table)}`);
  return String((rows as Record<string, string>[])[0]?.['Create Table']);
}

async function triggerDefinitions(db: Connection, tables: string[]): Promise<{ name: string; sql: string }[]> {
  const [rows] = await db.query(
    `SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS
     WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE IN (?) ORDER BY ACTION_ORDER`,
    [tables],
  );
  const out: { name: string; sql: string }[] = [];
  for (const { name } of rows as { name: string }[]) {
    const [def] = await db.query(`SHOW CREATE TRIGGER ${quote(name)}`);
    const statement = (def as Record<string, string>[])[0]?.['SQL Original Statement'];
    if (statement) out.push({ name, sql: statement });
  }
  return out;
}

export type Step = (line: string) => void;

export async function bulkLoad(db: Connection, tables: string[], load: () => Promise<void>, step: Step): Promise<void> {
  const before = new Map<string, string>();
  const indexes = new Map<string, Map<string, IndexColumn[]>>();
  for (const table of tables) {
    before.set(table, await showCreate(db, table));
    indexes.set(table, await secondaryIndexes(db, table));
  }
  const triggers = await triggerDefinitions(db, tables);
  for (const t of triggers) await db.query(`DROP TRIGGER ${quote(t.name)}`);
  for (const [table, byName] of indexes) {
    if (byName.size)
      await db.query(
        `ALTER TABLE ${quote(table)} ${[...byName.keys()].map((n) => `DROP INDEX ${quote(n)}`).join(', ')}`,
      );
  }
  await load();
  for (const [table, byName] of indexes) {
    const plain = [...byName].filter(([, cols]) => cols[0]?.type !== 'FULLTEXT');
    const fulltext = [...byName].filter(([, cols]) => cols[0]?.type === 'FULLTEXT');
    const started = Date.now();
    if (plain.length) {
      await db.query(`ALTER TABLE ${quote(table)} ${plain.map(([n, cols]) => addClause(n, cols)).join(', ')}`);
      step(`${table}: ${plain.length} indexes built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    // As the migrations build them: without InnoDB's stopword list (docs/data.md, "Search").
    // InnoDB adds one FULLTEXT index per statement.
    for (const [name, cols] of fulltext) {
      const t0 = Date.now();
      await db.query('SET SESSION innodb_ft_enable_stopword = OFF');
      await db.query(`ALTER TABLE ${quote(table)} ${addClause(name, cols)}`);
      await db.query('SET SESSION innodb_ft_enable_stopword = ON');
      step(`${table}: ${name} built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  for (const t of triggers) await db.query(t.sql);
  await resetStatusCounts(db, tables);
  if (tables.includes('jobs')) await resetJobErrors(db);
  for (const table of tables) {
    // Index order in the definition may differ (they were built in another order); nothing else may.
    const lines = (def: string | undefined) =>
      (def ?? '')
        .split('\n')
        .map((l) => l.replace(/,$/, ''))
        .sort();
    const after = await showCreate(db, table);
    if (lines(after).join('\n') !== lines(before.get(table)).join('\n'))
      throw new Error(`bulk load changed ${table}'s definition:\n${after}`);
  }
}

/** The status counters (docs/data.md, "Stats") from the rows, as the migration that made them does. */
async function resetStatusCounts(db: Connection, tables: string[]): Promise<void> {
  const counted = tables.filter((t) => t === 'notes' || t === 'jobs');
  if (!counted.length) return;
  await db.query('UPDATE status_counts SET n = 0 WHERE tbl IN (?)', [counted]);
  for (const table of counted) {
    await db.query(
      `INSERT INTO status_counts (tbl, status, shard, n)
       SELECT ?, status, 0, COUNT(*) FROM ${quote(table)} GROUP BY status
       ON DUPLICATE KEY UPDATE n = VALUES(n)`,
      [table],
    );
  }
}

/** The jobs that carry error text (docs/data.md, "Search"), from the rows, as the migration that made them does. */
async function resetJobErrors(db: Connection): Promise<void> {
  const columns = 'note_id, kind, priority, status, last_error, dead_reason, created_at, updated_at, finished_at';
  await db.query('DELETE FROM job_errors');
  await db.query(
    `INSERT INTO job_errors (job_id, ${columns})
     SELECT id, ${columns} FROM jobs WHERE last_error IS NOT NULL OR dead_reason IS NOT NULL`,
  );
}
