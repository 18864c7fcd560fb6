/**
 * D1 read replicas through the Sessions API. Each HTTP request runs its queries in one D1
 * session: a read may be served by a replica, a write always goes to the primary. The answer
 * carries the session's bookmark in `X-D1-Bookmark`; a client that sends it back gets a
 * session at least that fresh, so it reads its own writes even from a replica.
 * Requests that write start at the primary (`first-primary`), so what they read before writing
 * is never older than the primary; reads of the API (`/v1`, `/api`) start anywhere
 * (`first-unconstrained`) unless a bookmark says how fresh they must be. Everything else (the
 * dashboard, sign-in, OAuth, /mcp) starts at the primary: a browser that was just signed in
 * sends no bookmark, and its cookie's session row must be found.
 */
import { ApiError } from '../platform/errors';
import { withOverrides } from '../platform/with-overrides';

export const BOOKMARK_HEADER = 'X-D1-Bookmark';

/** D1's bookmark: four hex fields, e.g. 00000001-00000002-00004e2f-0a83ea2fceebc654de0640c422be4653. */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The bookmark a request sent, or null for none (an absent or empty header). Anything else is a
 * 400: D1 would keep a malformed bookmark as the session's own and hand it back forever.
 */
export function requestedBookmark(value: string | null): string | null {
  if (value === null || value.trim() === '') return null;
  if (BOOKMARK.test(value.trim())) return value.trim();
  throw new ApiError({
    status: 400,
    code: 'INVALID_BOOKMARK',
    message: `${BOOKMARK_HEADER} must be a bookmark this API answered (four hex fields, e.g. 00000001-00000002-00004e2f-0a83ea2fceebc654de0640c422be4653), or absent`,
    details: [{ field: BOOKMARK_HEADER, message: 'Malformed bookmark' }],
    headers: { 'Access-Control-Allow-Origin': '*' },
  });
}

/** The later of two bookmarks: D1's bookmarks sort lexicographically, oldest first. */
export function latestBookmark(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return a > b ? a : b;
}

/**
 * A D1 binding whose statements and batches run in the session `sessionOf` gives (drizzle and
 * raw batches alike); it is asked at each statement, so a session can open at the first one.
 */
export function sessionDatabase(d1: D1Database, sessionOf: () => D1DatabaseSession): D1Database {
  return withOverrides(d1, {
    prepare: (query: string) => sessionOf().prepare(query),
    batch: <T>(statements: D1PreparedStatement[]) => sessionOf().batch<T>(statements),
  });
}

/**
 * What a Durable Object's D1 work for one call left behind: the bookmark to answer, its round
 * trips in sequence, and (for the capacity model) the statements and rows of its own results.
 */
export interface D1Receipt {
  bookmark: string | null;
  d1RoundTrips: number;
  statements?: number;
  rowsRead?: number;
  rowsWritten?: number;
}

/**
 * One request's D1 session, and the bookmarks of writes other places (Durable Objects) made for
 * it. The session opens at the request's first query: many requests make none (a held claim, a
 * capabilities read).
 */
export class RequestSession {
  readonly db: D1Database;
  private session: D1DatabaseSession | undefined;
  private noted: string | null;

  constructor(d1: D1Database, opts: { method: string; path: string; bookmark: string | null }) {
    const replicaMayAnswer = !WRITE_METHODS.has(opts.method.toUpperCase()) && /^\/(v1|api)\//.test(opts.path);
    const constraint = replicaMayAnswer ? (opts.bookmark ?? 'first-unconstrained') : 'first-primary';
    this.db = sessionDatabase(d1, () => (this.session ??= d1.withSession(constraint)));
    this.noted = opts.bookmark;
  }

  /** A write made on this request's behalf elsewhere (the claim queue's batch). */
  note(bookmark: string | null): void {
    this.noted = latestBookmark(this.noted, bookmark);
  }

  /** The bookmark to answer: at least as fresh as everything this request wrote, read or was sent. */
  bookmark(): string | null {
    return latestBookmark(this.session?.getBookmark(), this.noted);
  }
}
