/**
 * Prefixed opaque ids. The body starts with the creation time in base62 so ids sort in
 * creation order (a stable tie-break for "oldest first"), then 14 random base62 characters.
 */
import { randomBase62 } from './crypto';

export type IdPrefix =
  | 'usr'
  | 'acc'
  | 'agt'
  | 'prj'
  | 'tsk'
  | 'stk'
  | 'cmt'
  | 'whk'
  | 'dlv'
  | 'lnk'
  | 'rec'
  | 'run'
  | 'att'
  | 'cod'
  | 'clm'
  | 'msg'
  | 'aut'
  | 'arn'
  | 'evt'
  | 'ing'
  | 'idv'
  | 'dec'
  | 'sin'
  | 'ses'
  | 'ctx';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function timePart(ms: number): string {
  let out = '';
  let n = Math.floor(ms);
  for (let i = 0; i < 8; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  return `${prefix}_${timePart(now)}${randomBase62(14)}`;
}
