/**
 * Webhook signatures, as the Delega docs tell receivers to check them:
 * `X-Delega-Signature: sha256=<hex HMAC-SHA-256 of "{X-Delega-Timestamp}.{raw body}">`.
 *
 *   const signature = await signDelivery(secret, '2026-01-15T10:30:00Z', body);
 */
import { hmacSha256Hex, randomBase62 } from '../platform/crypto';

export const SECRET_PREFIX = 'whsec_';

/** A fresh signing secret for a webhook created without one. */
export function generateSecret(): string {
  return `${SECRET_PREFIX}${randomBase62(32)}`;
}

/** The header value; `body` must be exactly the bytes sent. */
export async function signDelivery(secret: string, timestamp: string, body: string): Promise<string> {
  return `sha256=${await hmacSha256Hex(secret, `${timestamp}.${body}`)}`;
}
