-- Rows that keep their size when a job starts and completes (docs/data.md, "Write cost"). Notes
-- and jobs are inserted in key order, so their pages are full, and a row that grows on a full
-- page makes InnoDB reorganise or split the page and log it whole.
--
-- Jobs: a start stamps `started_at` and a completion `finished_at`, NULL until then, and in the
-- default row format (DYNAMIC) a NULL takes no space, so each stamp grew the row by 7 bytes. The
-- REDUNDANT row format keeps the full width of a fixed-size column that is NULL, so the stamps
-- are written into space the row already has (redo per note's whole life 29.4 → 23.4 KB,
-- measured with api/test/db-cost.ts). Its limits do not touch `jobs`: index keys of at most 767
-- bytes (the keys of jobs are ids, enums and times) and the first 768 bytes of a long text kept
-- in the row when the row outgrows its page (error texts are short). A row is a few dozen bytes
-- larger. On a large table this rebuilds it: run it in a quiet hour.
ALTER TABLE `jobs` ROW_FORMAT=REDUNDANT;--> statement-breakpoint
-- Notes: a completion writes the result (a JSON text of a few hundred bytes) into a row that was
-- inserted without it. `reserve` holds about that much while the note waits (the writer fills it
-- when the note is queued and empties it with the result: RESULT_RESERVE in schema.ts), so the
-- completion's update does not grow the row. The REDUNDANT format is not open to notes: its
-- 767-byte index keys do not hold `title`. Adding a NULL column is instant.
ALTER TABLE `notes` ADD COLUMN `reserve` varbinary(255);
