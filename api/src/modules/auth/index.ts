/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export { getUserById, listUsers, type UserRow, updateUser } from './users-repository.ts';
