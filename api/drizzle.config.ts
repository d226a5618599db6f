import { defineConfig } from 'drizzle-kit';

// Only for `drizzle-kit generate`, which reads the schema and needs no database.
export default defineConfig({
  dialect: 'mysql',
  schema: './src/platform/db/schema.ts',
  out: './drizzle',
});
