/**
 * The console's only way to the collector: same-origin calls to the HTTP API (docs/api.md) with the token the user
 * typed. The token lives in sessionStorage (this tab only) and travels only in the Authorization header, never in
 * a URL; it is never logged. A 401 on any call signs the tab out (the token was refused or revoked).
 */

const TOKEN_KEY = 'tributary.token';

export type Role = 'produce' | 'read' | 'admin';

export interface WireRecord {
  readonly offset: number;
  readonly partition?: number;
  readonly timestamp: number;
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value?: string;
  readonly value_base64?: string;
  readonly fields?: Readonly<Record<string, string>>;
}

export interface QuerySummary {
  readonly count: number;
  readonly partial: boolean;
  readonly cursor: string | null;
  readonly scanned_bytes: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(token: string | undefined): void {
  if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

let onUnauthenticated: () => void = () => {};
/** Called when a call answers 401: the app shows the token form again. */
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler;
}

export type Params = Record<string, string | number | boolean | readonly string[] | undefined>;

export function apiUrl(path: string, params: Params = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === '' || value === false) continue;
    if (Array.isArray(value)) for (const v of value) search.append(name, v);
    else search.set(name, String(value));
  }
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

function headers(token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function failure(response: Response, silent401 = false): Promise<ApiError> {
  let code = 'http_error';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401 && !silent401) onUnauthenticated();
  return new ApiError(response.status, code, message);
}

export async function getJson<T>(
  path: string,
  params: Params = {},
  options: { signal?: AbortSignal; token?: string; silent401?: boolean } = {},
): Promise<T> {
  const token = options.token ?? storedToken();
  const init: RequestInit = { headers: headers(token, { accept: 'application/json' }) };
  if (options.signal) init.signal = options.signal;
  const response = await fetch(apiUrl(path, params), init);
  if (!response.ok) throw await failure(response, options.silent401);
  return (await response.json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: 'POST',
    headers: headers(storedToken(), { 'content-type': 'application/json', accept: 'application/json' }),
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

/**
 * Streams an NDJSON answer (query, tail), calling `onLines` with each chunk's parsed lines as they arrive, until
 * the answer ends or `signal` aborts. Streaming over fetch rather than EventSource: EventSource cannot send an
 * Authorization header, and the token must not go in the URL.
 */
export async function streamNdjson(
  path: string,
  params: Params,
  onLines: (lines: unknown[]) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(apiUrl(path, params), {
    headers: headers(storedToken(), { accept: 'application/x-ndjson' }),
    signal,
  });
  if (!response.ok || !response.body) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = rest + value;
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        rest = text;
        continue;
      }
      rest = text.slice(end + 1);
      const lines: unknown[] = [];
      for (const line of text.slice(0, end).split('\n')) if (line) lines.push(JSON.parse(line));
      onLines(lines);
    }
    if (rest.trim()) onLines([JSON.parse(rest)]);
  } catch (error) {
    if (!signal.aborted) throw error;
  } finally {
    reader.releaseLock();
  }
}

export function recordText(record: WireRecord): string {
  if (record.value !== undefined) return record.value;
  return `[binary, base64] ${record.value_base64 ?? ''}`;
}
