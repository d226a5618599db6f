import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jobs, notes } from '@notes/api/platform/db/schema.ts';
import { getTableConfig } from 'drizzle-orm/mysql-core';

/**
 * node --import tsx scripts/bench/equal-indexes/apply.ts <checkout>
 *
 * Gives a checkout of the first wave's code (e.g. a git worktree of b270b38, the commit before the
 * second wave) this code's indexes of notes and jobs, the list and FULLTEXT indexes the data at
 * scale needs (docs/data.md, "Indexes"), as one more migration, so that its `npm run bench`
 * measures the older pipeline with the indexes this one must keep (README, "Before → after").
 * The statements come from this code's drizzle schema, so they follow it; a checkout that has the
 * migration already is left as it is.
 */

/** The secondary indexes of notes and jobs in the first wave's only migration (0000_init). */
export const FIRST_WAVE_INDEXES: Readonly<Record<string, readonly string[]>> = {
  notes_user_created_idx: ['user_id', 'created_at'],
  notes_user_updated_idx: ['user_id', 'updated_at'],
  notes_user_status_idx: ['user_id', 'status'],
  notes_status_idx: ['status'],
  jobs_note_idx: ['note_id', 'created_at'],
  jobs_status_idx: ['status', 'created_at'],
  jobs_user_idx: ['user_id'],
};

/**
 * Drizzle has no FULLTEXT index type: the search index as migration 0003 creates it, without a
 * stopword list (an index takes the setting of the session that creates it).
 */
const SEARCH_INDEX = [
  'SET SESSION innodb_ft_enable_stopword = OFF',
  'CREATE FULLTEXT INDEX `notes_search_ft` ON `notes` (`title`,`body`)',
  'SET SESSION innodb_ft_enable_stopword = ON',
];

const TAG_SUFFIX = '_equal_indexes';

/**
 * The migration: each index of notes and jobs in this code's schema that the first wave did not
 * have, or had on other columns (dropped and made again), then the FULLTEXT index.
 */
export function equalIndexesSql(): string {
  const statements: string[] = [];
  for (const table of [notes, jobs]) {
    const { name: tableName, indexes } = getTableConfig(table);
    for (const { config } of indexes) {
      const columns = config.columns.map((c) => (c as { name: string }).name);
      const had = FIRST_WAVE_INDEXES[config.name];
      if (had?.join() === columns.join()) continue;
      if (had) statements.push(`DROP INDEX \`${config.name}\` ON \`${tableName}\``);
      const list = columns.map((c) => `\`${c}\``).join(',');
      statements.push(`CREATE ${config.unique ? 'UNIQUE ' : ''}INDEX \`${config.name}\` ON \`${tableName}\` (${list})`);
    }
  }
  statements.push(...SEARCH_INDEX);
  const head = "-- This code's indexes of notes and jobs, for a bench of older code (scripts/bench/equal-indexes).\n";
  return `${head}${statements.join(';--> statement-breakpoint\n')};\n`;
}

interface JournalEntry {
  idx: number;
  version: string;
  when: number;
  tag: string;
  breakpoints: boolean;
}
interface Journal {
  entries: JournalEntry[];
}

/** What was done: the migration's tag, and whether it was there already. */
export function applyEqualIndexes(checkout: string): { tag: string; added: boolean } {
  const folder = join(checkout, 'api', 'drizzle');
  const journalPath = join(folder, 'meta', '_journal.json');
  if (!existsSync(journalPath)) throw new Error(`${journalPath} not found: not a checkout of this project`);
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as Journal;
  const present = journal.entries.find((e) => e.tag.endsWith(TAG_SUFFIX));
  if (present) return { tag: present.tag, added: false };
  if (readdirSync(folder).some((f) => /_data_at_scale\.sql$/.test(f))) {
    throw new Error(`${folder} has the data-at-scale migration already: this code has the indexes`);
  }
  const last = journal.entries.at(-1);
  if (!last) throw new Error(`${journalPath} has no migrations`);
  const idx = last.idx + 1;
  const tag = `${String(idx).padStart(4, '0')}${TAG_SUFFIX}`;
  writeFileSync(join(folder, `${tag}.sql`), equalIndexesSql());
  // After every migration there (drizzle applies in journal order and skips none that is newer).
  journal.entries.push({ idx, version: last.version, when: last.when + 1000, tag, breakpoints: true });
  writeFileSync(journalPath, `${JSON.stringify(journal, null, 2)}\n`);
  return { tag, added: true };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const checkout = process.argv[2];
  if (!checkout || process.argv.length > 3) {
    console.error('usage: node --import tsx scripts/bench/equal-indexes/apply.ts <checkout of older code>');
    process.exit(2);
  }
  try {
    const { tag, added } = applyEqualIndexes(checkout);
    console.log(added ? `added migration ${tag}` : `migration ${tag} is there already`);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
