import { type Static, Type } from '@sinclair/typebox';
import { ROLES, type Role } from './statuses.ts';

/**
 * Users and auth (docs/api.md). These schemas validate requests (strictly: unknown
 * fields are a 400), serialise responses (so a password hash can never leak: fields not named
 * here are dropped), type the handlers and feed the OpenAPI document.
 */

export const PASSWORD_MIN_LENGTH = 8;
/** argon2 pre-hashes the password, so length costs little; the cap only bounds request work. */
export const PASSWORD_MAX_LENGTH = 1024;

const Email = Type.String({
  format: 'email',
  maxLength: 320,
  description: 'Stored trimmed, in Unicode NFC and lower case, and compared exactly in that form.',
});

/** The roles, as one enum (statuses.ts holds the list). */
export const RoleSchema = Type.Unsafe<Role>({
  type: 'string',
  enum: [...ROLES],
  description: "`service` is the consumers' identity; it has no user row.",
});

/** Who a verified token names (request.user): enough to authorise, no user row behind it. */
export interface AuthUser {
  id: string;
  role: Role;
}

export const UserSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    email: Type.String(),
    role: RoleSchema,
    disabled: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type PublicUser = Static<typeof UserSchema>;

/** What /me answers for a service token: there is no user row behind it. */
export const ServiceIdentitySchema = Type.Object(
  { id: Type.String(), role: Type.Literal('service') },
  { additionalProperties: false },
);
export type ServiceIdentity = Static<typeof ServiceIdentitySchema>;

export const RegisterBodySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    email: Email,
    password: Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBodySchema>;

/**
 * Login takes any non-empty string as the email: a malformed address simply fails as wrong
 * credentials, so the answer says nothing about which addresses could exist.
 */
export const LoginBodySchema = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBodySchema>;

export const ChangePasswordBodySchema = Type.Object(
  {
    current_password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
    new_password: Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
  },
  { additionalProperties: false },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBodySchema>;

export const AuthResultSchema = Type.Object(
  {
    user: UserSchema,
    token: Type.String({ description: 'JWT (HS256); send as `Authorization: Bearer <token>`.' }),
    expires_in: Type.Integer({ description: 'Seconds until the token expires.' }),
  },
  { additionalProperties: false },
);
export type AuthResult = Static<typeof AuthResultSchema>;

export const MeSchema = Type.Union([UserSchema, ServiceIdentitySchema]);

/** Admin console (listing users); the admin routes build on these. */
export const USER_SORT_FIELDS = ['created_at', 'email', 'name', 'role'] as const;
export type UserSortField = (typeof USER_SORT_FIELDS)[number];
