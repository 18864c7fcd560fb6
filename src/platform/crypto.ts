/** Randomness and keyed hashing for keys, codes and tokens (Web Crypto only). */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const encoder = new TextEncoder();

/** Uniform base62 string: rejection sampling avoids modulo bias. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const b of bytes) {
      if (b < 248) out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A 6-digit code, uniform over 000000-999999. */
export function randomDigits(length = 6): string {
  let out = '';
  while (out.length < length) {
    const [b] = crypto.getRandomValues(new Uint8Array(1));
    if (b! < 250) out += String(b! % 10);
  }
  return out;
}

export function toHex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    // Webhook secrets are many; keep the cache bounded (the server secret is re-added at once).
    if (hmacKeys.size >= 256) hmacKeys.clear();
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    hmacKeys.set(secret, key);
  }
  return key;
}

export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const sig = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(message));
  return toHex(sig);
}

export async function sha256Hex(message: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(message)));
}

/** Constant-time string comparison (length is not secret here: both sides are fixed-size hashes). */
export function timingSafeEqual(a: string, b: string): boolean {
  const ab = encoder.encode(a);
  const bb = encoder.encode(b);
  if (ab.length !== bb.length) return false;
  let diff = 0;
  for (let i = 0; i < ab.length; i++) diff |= ab[i]! ^ bb[i]!;
  return diff === 0;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unbase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function aesKey(secret: string, context: string): Promise<CryptoKey> {
  const raw = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(`aes:${context}`));
  return crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** AES-256-GCM under a key derived from `secret` and `context`; answers `iv.ciphertext` in base64. */
export async function seal(secret: string, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await aesKey(secret, context), encoder.encode(plaintext));
  return `${base64(iv)}.${base64(new Uint8Array(sealed))}`;
}

/** The inverse of `seal`; null when the context or secret differ or the text was altered. */
export async function unseal(secret: string, context: string, sealed: string): Promise<string | null> {
  const [iv, body] = sealed.split('.');
  if (!iv || !body) return null;
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unbase64(iv) }, await aesKey(secret, context), unbase64(body));
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
