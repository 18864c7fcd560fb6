/**
 * API keys: `dlg_` + 34 random base62 characters (~202 bits) + a 6-character tag. The tag is an
 * HMAC of the rest under KEY_PEPPER, so a made-up key is refused before anything looks it up
 * (no D1 read, no Durable Object for it): a guessed tag passes once in 62^6 (about 5.7e10) tries.
 * Only HMAC-SHA-256(KEY_PEPPER, key) is stored; the plaintext leaves the server exactly once.
 */
import { hmacSha256Hex, randomBase62, timingSafeEqual } from '../platform/crypto';

export const KEY_PREFIX = 'dlg_';
const RANDOM_LENGTH = 34;
const TAG_LENGTH = 6;
const KEY_PATTERN = new RegExp(`^dlg_[0-9A-Za-z]{${RANDOM_LENGTH + TAG_LENGTH}}$`);
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export interface IssuedKey {
  plaintext: string;
  hash: string;
  /** Safe to display: `dlg_` plus the first 6 characters. */
  displayPrefix: string;
}

export async function issueKey(pepper: string): Promise<IssuedKey> {
  const body = KEY_PREFIX + randomBase62(RANDOM_LENGTH);
  const plaintext = body + (await tagOf(pepper, body));
  return { plaintext, hash: await hashKey(pepper, plaintext), displayPrefix: plaintext.slice(0, 10) };
}

export function hashKey(pepper: string, plaintext: string): Promise<string> {
  return hmacSha256Hex(pepper, `api-key:${plaintext}`);
}

/** Cheap shape check before any hashing or D1 work. */
export function looksLikeKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

/** Whether the key carries the tag this server gives its keys (checked before any lookup). */
export async function hasValidTag(pepper: string, key: string): Promise<boolean> {
  if (!looksLikeKey(key)) return false;
  return timingSafeEqual(key.slice(-TAG_LENGTH), await tagOf(pepper, key.slice(0, -TAG_LENGTH)));
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
