/** One JSON request as a client sends it; shared by the in-workerd and the over-HTTP suites. */
export interface JsonResult<T> {
  status: number;
  body: T;
  headers: Headers;
}

export async function jsonRequest<T>(
  fetcher: (url: string, init: RequestInit) => Promise<Response>,
  url: string,
  method: string,
  opts: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResult<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers['X-Agent-Key'] = opts.key;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] ??= 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetcher(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the assertion on the body will say so.
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}
