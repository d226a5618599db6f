import { type Static, Type } from '@sinclair/typebox';

/**
 * The result of `note.process` (docs/api.md), the one definition: the consumers compute
 * it, the internal callback validates it, the database stores it, the API and console show it.
 */
export const NoteResult = Type.Object(
  {
    word_count: Type.Integer({ minimum: 0 }),
    char_count: Type.Integer({ minimum: 0 }),
    reading_time_seconds: Type.Integer({ minimum: 0 }),
    tags: Type.Array(Type.String({ minLength: 1 })),
    links: Type.Array(Type.String({ minLength: 1 })),
    checksum: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);
export type NoteResult = Static<typeof NoteResult>;
