/**
 * API keys: `dlg_` + 34 random base62 characters (~202 bits) + the account's id without its
 * `acc_` (22 characters) + a 6-character tag. The tag is an HMAC of the rest under KEY_PEPPER,
 * so a made-up key is refused before anything looks it up (no D1 read, no Durable Object for
 * it): a guessed tag passes once in 62^6 (about 5.7e10) tries, and the account part cannot be
 * changed without breaking it. The account part says which account's key gate admits the key
 * (access/key-gate.ts) before anything is read. Keys issued before it was added (40 characters,
 * no account part) still work, each through a gate of its own.
 * Only HMAC-SHA-256(KEY_PEPPER, key) is stored; the plaintext leaves the server exactly once.
 */
import { hmacSha256Hex, randomBase62, timingSafeEqual } from '../platform/crypto';

export const KEY_PREFIX = 'dlg_';
const RANDOM_LENGTH = 34;
const TAG_LENGTH = 6;
const ACCOUNT_PREFIX = 'acc_';
/** An account id's body: 8 characters of time and 14 random ones (platform/ids.ts). */
const ACCOUNT_LENGTH = 22;
const ACCOUNT_ID_PATTERN = new RegExp(`^${ACCOUNT_PREFIX}[0-9A-Za-z]{${ACCOUNT_LENGTH}}$`);
const KEY_LENGTH = KEY_PREFIX.length + RANDOM_LENGTH + ACCOUNT_LENGTH + TAG_LENGTH;
const KEY_PATTERN = new RegExp(
  `^dlg_(?:[0-9A-Za-z]{${RANDOM_LENGTH + ACCOUNT_LENGTH + TAG_LENGTH}}|[0-9A-Za-z]{${RANDOM_LENGTH + TAG_LENGTH}})$`,
);
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export interface IssuedKey {
  plaintext: string;
  hash: string;
  /** Safe to display: `dlg_` plus the first 6 characters. */
  displayPrefix: string;
}

/** A new key of an agent of the account. */
export async function issueKey(pepper: string, accountId: string): Promise<IssuedKey> {
  if (!ACCOUNT_ID_PATTERN.test(accountId)) throw new Error(`not an account id: ${accountId}`);
  const body = KEY_PREFIX + randomBase62(RANDOM_LENGTH) + accountId.slice(ACCOUNT_PREFIX.length);
  const plaintext = await withTag(pepper, body);
  return { plaintext, hash: await hashKey(pepper, plaintext), displayPrefix: plaintext.slice(0, 10) };
}

export function hashKey(pepper: string, plaintext: string): Promise<string> {
  return hmacSha256Hex(pepper, `api-key:${plaintext}`);
}

/** Cheap shape check before any hashing or D1 work. */
export function looksLikeKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

/** The account a key names, or null for a key issued before keys named theirs. Trust it only once the tag is checked. */
export function accountOfKey(key: string): string | null {
  if (key.length !== KEY_LENGTH) return null;
  return ACCOUNT_PREFIX + key.slice(KEY_PREFIX.length + RANDOM_LENGTH, -TAG_LENGTH);
}

/** Whether the key carries the tag this server gives its keys (checked before any lookup). */
export async function hasValidTag(pepper: string, key: string): Promise<boolean> {
  if (!looksLikeKey(key)) return false;
  return timingSafeEqual(key.slice(-TAG_LENGTH), await tagOf(pepper, key.slice(0, -TAG_LENGTH)));
}

/** The key: its body and the tag that proves this server made it. */
export async function withTag(pepper: string, body: string): Promise<string> {
  return body + (await tagOf(pepper, body));
}

/** TAG_LENGTH base62 digits of HMAC(pepper, body); 62^6 < 2^48, so 48 bits of the MAC feed them. */
async function tagOf(pepper: string, body: string): Promise<string> {
  let n = BigInt(`0x${(await hmacSha256Hex(pepper, `api-key-tag:${body}`)).slice(0, 12)}`);
  let tag = '';
  for (let i = 0; i < TAG_LENGTH; i++) {
    tag = BASE62[Number(n % 62n)] + tag;
    n /= 62n;
  }
  return tag;
}
