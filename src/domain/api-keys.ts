/**
 * API keys: `dlg_` + 40 base62 characters (~238 bits). Only HMAC-SHA-256(KEY_PEPPER, key)
 * is stored; the plaintext leaves the server exactly once.
 */
import { hmacSha256Hex, randomBase62 } from '../lib/crypto';

export const KEY_PREFIX = 'dlg_';
const KEY_BODY_LENGTH = 40;
const KEY_PATTERN = /^dlg_[0-9A-Za-z]{32,128}$/;

export interface IssuedKey {
  plaintext: string;
  hash: string;
  /** Safe to display: `dlg_` plus the first 6 characters. */
  displayPrefix: string;
}

export async function issueKey(pepper: string): Promise<IssuedKey> {
  const plaintext = KEY_PREFIX + randomBase62(KEY_BODY_LENGTH);
  return { plaintext, hash: await hashKey(pepper, plaintext), displayPrefix: plaintext.slice(0, 10) };
}

export function hashKey(pepper: string, plaintext: string): Promise<string> {
  return hmacSha256Hex(pepper, `api-key:${plaintext}`);
}

/** Cheap shape check before any hashing or D1 work. */
export function looksLikeKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}
