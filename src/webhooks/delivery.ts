/**
 * One HTTP attempt of a webhook delivery, and what its outcome means: success, retry later,
 * or give up. No storage here; the consumer records what this returns.
 *
 *   const outcome = await attemptDelivery(fetch, { url, secret, event, deliveryId, body }, { timeoutMs: 10_000, now: Date.now });
 */
import { isoSeconds } from '../platform/time';
import { signDelivery } from './signing';

export type FetchLike = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

export interface DeliveryRequest {
  url: string;
  secret: string;
  event: string;
  deliveryId: string;
  /** The stored JSON body, sent and signed byte for byte. */
  body: string;
}

export type OutcomeKind = 'succeeded' | 'retry' | 'failed';

export interface AttemptOutcome {
  kind: OutcomeKind;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** 2xx succeeds; 429, 5xx and no answer at all are worth retrying; any other answer is final. */
export function classifyStatus(status: number): OutcomeKind {
  if (status >= 200 && status < 300) return 'succeeded';
  if (status === 429 || status >= 500) return 'retry';
  return 'failed';
}

const MAX_ERROR_LENGTH = 500;
export const USER_AGENT = 'Delega-Webhooks/1.0 (+https://delega.dev)';

export async function attemptDelivery(
  fetcher: FetchLike,
  req: DeliveryRequest,
  opts: { timeoutMs: number; now: () => number },
): Promise<AttemptOutcome> {
  const timestamp = isoSeconds(opts.now());
  const signature = await signDelivery(req.secret, timestamp, req.body);
  const started = Date.now();
  try {
    const res = await fetcher(req.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': USER_AGENT,
        'X-Delega-Event': req.event,
        'X-Delega-Delivery': req.deliveryId,
        'X-Delega-Timestamp': timestamp,
        'X-Delega-Signature': signature,
      },
      body: req.body,
      // Redirects could point anywhere, including addresses the URL check refused.
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    // Drain the body so the connection is released; its content is not kept.
    await res.body?.cancel().catch(() => undefined);
    const kind = classifyStatus(res.status);
    return { kind, statusCode: res.status, error: kind === 'succeeded' ? null : `HTTP ${res.status}`, durationMs: Date.now() - started };
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    const message = timedOut ? `Timed out after ${opts.timeoutMs} ms` : `Network error: ${e instanceof Error ? e.message : String(e)}`;
    return { kind: 'retry', statusCode: null, error: message.slice(0, MAX_ERROR_LENGTH), durationMs: Date.now() - started };
  }
}

/** Exponential backoff: base, 2x base, 4x base ... capped at `max`. `attempt` starts at 1. */
export function retryDelaySeconds(attempt: number, base: number, max: number): number {
  return Math.min(max, Math.round(base * 2 ** Math.max(0, attempt - 1)));
}
