import { customType, datetime, varchar } from 'drizzle-orm/mysql-core';

/** Column helpers the schema's files share (schema.ts). */
export const id = (name = 'id') => varchar(name, { length: 36 });
export const ts = (name: string) => datetime(name, { mode: 'date', fsp: 3 });

/**
 * Emails are stored normalised (trim, NFC, lower case: users-repository.ts) and compared
 * byte for byte: the binary collation keeps `séc@…` and `sec@…` two accounts, where the
 * database's accent-insensitive default made them one (docs/security.md).
 */
export const binaryVarchar = customType<{ data: string; config: { length: number } }>({
  dataType: (config) => `varchar(${config?.length ?? 255}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
});
