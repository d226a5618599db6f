/**
 * The console's one HTTP client for the API. It adds the token, turns problem+json answers into
 * ApiError (shaped like react-admin's HttpError: `message`, `status`, `body`, which is what
 * react-admin's notifications and authProvider.checkError read) and has no React in it, so the
 * providers built on it are tested in Node against the real API.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export type QueryValue = string | number | boolean | null | undefined;

export interface TokenStore {
  get(): string | null;
  set(token: string): void;
  clear(): void;
}

export interface ApiClientOptions {
  /** Origin of the API; '' means the page's own origin (the console is served by the API). */
  baseUrl?: string;
  tokens: TokenStore;
  fetch?: typeof fetch;
}

export interface ApiRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Send without the token (login). */
  anonymous?: boolean;
}

export type ApiClient = <T>(path: string, request?: ApiRequest) => Promise<T>;

export function queryString(query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export function createApiClient(opts: ApiClientOptions): ApiClient {
  const base = (opts.baseUrl ?? '').replace(/\/+$/, '');
  const doFetch = opts.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  return async <T>(path: string, request: ApiRequest = {}): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    const token = request.anonymous ? null : opts.tokens.get();
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.body);
    }
    let res: Response;
    try {
      res = await doFetch(`${base}${path}${queryString(request.query)}`, {
        method: request.method ?? 'GET',
        headers,
        body,
      });
    } catch (err) {
      throw new ApiError(`The API did not answer: ${(err as Error).message}`, 0, null);
    }
    const text = await res.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) throw new ApiError(problemMessage(parsed, res), res.status, parsed);
    return parsed as T;
  };
}

/** The problem's `detail` (what a person should read), else its title, else the status. */
function problemMessage(body: unknown, res: Response): string {
  if (body && typeof body === 'object') {
    const p = body as { detail?: unknown; title?: unknown };
    if (typeof p.detail === 'string' && p.detail) return p.detail;
    if (typeof p.title === 'string' && p.title) return p.title;
  }
  return `${res.status} ${res.statusText || 'error'}`;
}

/** Tokens in localStorage, so a reload keeps the session (the JWT expires on its own). */
export function localStorageTokens(key = 'notes-admin-token'): TokenStore {
  return {
    get: () => globalThis.localStorage?.getItem(key) ?? null,
    set: (t) => globalThis.localStorage?.setItem(key, t),
    clear: () => globalThis.localStorage?.removeItem(key),
  };
}

export function memoryTokens(): TokenStore {
  let token: string | null = null;
  return {
    get: () => token,
    set: (t) => {
      token = t;
    },
    clear: () => {
      token = null;
    },
  };
}
