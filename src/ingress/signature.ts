/**
 * Ingress signatures: `X-Delega-Ingress-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of
 * "<t>.<raw body>">` under the source's secret, over the exact bytes received, accepted within
 * five minutes of the server's clock and compared in constant time.
 */
import { randomBase62 } from '../platform/crypto';

export const INGRESS_SIGNATURE_HEADER = 'X-Delega-Ingress-Signature';
export const SIGNATURE_TOLERANCE_SECONDS = 300;
export const INGRESS_SECRET_PREFIX = 'ingsec_';

const encoder = new TextEncoder();

export const generateIngressSecret = () => `${INGRESS_SECRET_PREFIX}${randomBase62(32)}`;

async function hmac(secret: string, timestamp: string, body: Uint8Array): Promise<ArrayBuffer> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const prefix = encoder.encode(`${timestamp}.`);
  const message = new Uint8Array(prefix.byteLength + body.byteLength);
  message.set(prefix, 0);
  message.set(body, prefix.byteLength);
  return crypto.subtle.sign('HMAC', key, message);
}

export type SignatureVerdict = 'valid' | 'missing' | 'malformed' | 'stale' | 'mismatch';

export interface IngressSignatureCheck {
  secret: string;
  /** The signature header as received. */
  header: string | null | undefined;
  /** The body exactly as received. */
  body: Uint8Array;
  nowMs: number;
}

/** Checks the header against the body; any `v1` that matches is enough (a header may carry several). */
export async function verifyIngressSignature({ secret, header, body, nowMs }: IngressSignatureCheck): Promise<SignatureVerdict> {
  if (!header) return 'missing';
  let timestamp: string | null = null;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === 't' && value) timestamp = value;
    else if (name === 'v1' && value && /^[0-9a-f]{64}$/i.test(value)) candidates.push(value.toLowerCase());
  }
  if (timestamp === null || !/^\d{1,12}$/.test(timestamp) || candidates.length === 0) return 'malformed';
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) return 'stale';
  const expected = new Uint8Array(await hmac(secret, timestamp, body));
  let matched = false;
  for (const candidate of candidates) {
    const given = new Uint8Array(candidate.match(/../g)!.map((h) => parseInt(h, 16)));
    // Both sides are 32 bytes: the comparison's time says nothing about the secret.
    if (crypto.subtle.timingSafeEqual(expected, given)) matched = true;
  }
  return matched ? 'valid' : 'mismatch';
}
