/**
 * What every list on the wire shares (docs/data.md, "Paging"): the deepest `offset` a client may
 * ask for (past it, lists page with the opaque cursor), and the fields the notes list sorts by.
 * The API enforces them; the admin API and the console read them from here.
 */
export const MAX_OFFSET = 1_000;

export const SORT_FIELDS = ['created_at', 'updated_at', 'title', 'priority', 'status'] as const;
export type SortField = (typeof SORT_FIELDS)[number];
