import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * node --import tsx scripts/bench/equal-indexes/apply.ts <checkout>
 *
 * Adds `indexes.sql` (the data-at-scale list and FULLTEXT indexes of notes and jobs) to the
 * migrations of a checkout of older code, e.g. a git worktree of the commit before this wave, so
 * that its `npm run bench` measures the older pipeline with the indexes this one must keep
 * (README, "Before → after"). It appends one entry to that checkout's drizzle journal and copies
 * the file beside its other migrations; a checkout that has it already is left as it is.
 */

export const INDEXES_SQL = fileURLToPath(new URL('./indexes.sql', import.meta.url));
const TAG_SUFFIX = '_equal_indexes';

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
  copyFileSync(INDEXES_SQL, join(folder, `${tag}.sql`));
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
