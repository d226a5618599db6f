import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrateDatabase } from '@notes/api/platform/db/client.ts';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import mysql from 'mysql2/promise';
import { applyEqualIndexes, equalIndexesSql, FIRST_WAVE_INDEXES } from '../bench/equal-indexes/apply.ts';

/**
 * The bench's equal-indexes recipe (README, "Before → after"): the first wave's indexes of notes
 * and jobs with the recipe's statements applied are exactly those of this code's migrated
 * database, and the recipe lands in a checkout's migrations once, after the others.
 */

/** `table.name(columns)`, FULLTEXT marked, of every index after the recipe's statements run on the first wave's. */
function afterRecipe(sql: string): string[] {
  const indexes = new Map<string, string>();
  for (const table of ['notes', 'jobs']) indexes.set(`${table}.PRIMARY`, `${table}.PRIMARY(id)`);
  for (const [name, columns] of Object.entries(FIRST_WAVE_INDEXES)) {
    const table = name.split('_')[0] as string;
    indexes.set(`${table}.${name}`, `${table}.${name}(${columns.join(',')})`);
  }
  for (const m of sql.matchAll(/(DROP|CREATE(?: UNIQUE| FULLTEXT)?) INDEX `(\w+)` ON `(\w+)`(?: \(([^)]*)\))?/g)) {
    const [, verb, name, table, columns] = m;
    if (verb === 'DROP') {
      assert.ok(indexes.delete(`${table}.${name}`), `drops ${table}.${name}, which the first wave has`);
      continue;
    }
    const made = `${table}.${name}(${columns?.replaceAll('`', '')})${verb?.includes('FULLTEXT') ? ' FULLTEXT' : ''}`;
    assert.ok(!indexes.has(`${table}.${name}`), `creates ${table}.${name} once, after any drop`);
    indexes.set(`${table}.${name}`, made);
  }
  return [...indexes.values()].sort();
}

describe('equal-indexes recipe', () => {
  let ns: TestNamespace;
  before(async () => {
    ns = await createTestNamespace('eqidx');
    await migrateDatabase(ns.config());
  });
  after(async () => {
    await ns?.cleanup();
  });

  it("with the first wave's own indexes, gives notes and jobs exactly this code's indexes", async () => {
    const db = await mysql.createConnection({ uri: ns.databaseUrl });
    try {
      const [rows] = await db.query(
        `SELECT TABLE_NAME AS t, INDEX_NAME AS i, INDEX_TYPE AS type,
                GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols
           FROM information_schema.STATISTICS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('notes', 'jobs')
          GROUP BY TABLE_NAME, INDEX_NAME, INDEX_TYPE`,
      );
      const current = (rows as { t: string; i: string; type: string; cols: string }[])
        .map((r) => `${r.t}.${r.i}(${r.cols})${r.type === 'FULLTEXT' ? ' FULLTEXT' : ''}`)
        .sort();
      assert.deepEqual(afterRecipe(equalIndexesSql()), current);
    } finally {
      await db.end();
    }
  });

  it("adds one migration after a checkout's last one, and only once", () => {
    const checkout = mkdtempSync(join(tmpdir(), 'eqidx-'));
    try {
      const folder = join(checkout, 'api', 'drizzle');
      mkdirSync(join(folder, 'meta'), { recursive: true });
      writeFileSync(join(folder, '0000_init.sql'), 'CREATE TABLE t (id int);\n');
      const journal = {
        version: '7',
        dialect: 'mysql',
        entries: [{ idx: 0, version: '5', when: 1000, tag: '0000_init', breakpoints: true }],
      };
      writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify(journal));

      assert.deepEqual(applyEqualIndexes(checkout), { tag: '0001_equal_indexes', added: true });
      assert.deepEqual(applyEqualIndexes(checkout), { tag: '0001_equal_indexes', added: false });

      const written = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8'));
      assert.equal(written.dialect, 'mysql');
      assert.deepEqual(written.entries.at(-1), {
        idx: 1,
        version: '5',
        when: 2000,
        tag: '0001_equal_indexes',
        breakpoints: true,
      });
      assert.equal(written.entries.length, 2);
      assert.deepEqual(readdirSync(folder).sort(), ['0000_init.sql', '0001_equal_indexes.sql', 'meta']);
      assert.equal(readFileSync(join(folder, '0001_equal_indexes.sql'), 'utf8'), equalIndexesSql());
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  });

  it('refuses a checkout that has the indexes, or is not a checkout of this project', () => {
    const checkout = mkdtempSync(join(tmpdir(), 'eqidx-'));
    try {
      assert.throws(() => applyEqualIndexes(checkout), /not a checkout of this project/);
      const folder = join(checkout, 'api', 'drizzle');
      mkdirSync(join(folder, 'meta'), { recursive: true });
      writeFileSync(join(folder, '0003_data_at_scale.sql'), '');
      writeFileSync(
        join(folder, 'meta', '_journal.json'),
        JSON.stringify({ entries: [{ idx: 3, version: '5', when: 1, tag: '0003_data_at_scale', breakpoints: true }] }),
      );
      assert.throws(() => applyEqualIndexes(checkout), /has the indexes/);
      assert.deepEqual(readdirSync(folder).sort(), ['0003_data_at_scale.sql', 'meta']);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  });
});
