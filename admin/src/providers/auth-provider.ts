import type { PublicUser } from '@notes/contracts/wire';
import type { AuthProvider } from 'react-admin';
import { type ApiClient, ApiError, type TokenStore } from './http.ts';

type ApiUser = PublicUser;

export const NOT_ADMIN_MESSAGE = 'This account is not an administrator: the console is for admins only.';

/**
 * Login through the API (POST /api/auth/login), the token kept in the token store. Only admins
 * get in: a user's valid credentials are refused with a message saying why, and their token is
 * not kept. Any 401/403 from the API later (expired token, demoted, disabled) logs out.
 */
export function createAuthProvider(api: ApiClient, tokens: TokenStore): AuthProvider {
  return {
    async login(params: { email?: string; username?: string; password?: string }) {
      const email = params.email ?? params.username ?? '';
      let result: { user: ApiUser; token: string };
      try {
        result = await api('/api/auth/login', {
          method: 'POST',
          body: { email, password: params.password ?? '' },
          anonymous: true,
        });
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) throw new Error('Wrong email or password.');
        if (err instanceof ApiError && err.status === 400) throw new Error('Enter an email and a password.');
        throw err; // 429 and outages: the API's own detail says what to do
      }
      if (result.user.role !== 'admin') throw new Error(NOT_ADMIN_MESSAGE);
      tokens.set(result.token);
    },

    async logout() {
      tokens.clear();
    },

    async checkAuth() {
      const token = tokens.get();
      if (!token || isExpired(token)) {
        tokens.clear();
        throw new Error('Please log in.');
      }
    },

    async checkError(error: { status?: number }) {
      if (error?.status === 401 || error?.status === 403) {
        tokens.clear();
        throw new Error(error.status === 403 ? NOT_ADMIN_MESSAGE : 'Your session has ended: please log in again.');
      }
    },

    async getIdentity() {
      const me = await api<ApiUser>('/api/auth/me');
      return { id: me.id, fullName: me.name || me.email, email: me.email, role: me.role };
    },
  };
}

/** Reads `exp` without verifying (the API verifies); a token we can't read counts as expired. */
export function isExpired(token: string, now = Date.now()): boolean {
  try {
    const payload = JSON.parse(atob(base64(token.split('.')[1] ?? ''))) as { exp?: number };
    return typeof payload.exp === 'number' && payload.exp * 1000 <= now;
  } catch {
    return true;
  }
}

function base64(b64url: string): string {
  const s = b64url.replace(/-/g, '+').replace(/_/g, '/');
  return s + '='.repeat((4 - (s.length % 4)) % 4);
}
