/**
 * In-test webhook receivers. Each receiver has its own public-looking https URL and a script
 * that answers each request. `installReceivers()` routes the Worker's outbound `fetch` to them
 * (the queue consumer runs in the test isolate), so queued deliveries reach them too; no D1 or
 * Queue behaviour is replaced.
 */
import { vi } from 'vitest';
import { unique } from './fixtures';

export interface Received {
  url: string;
  headers: Record<string, string>;
  /** The raw body bytes as text, exactly as received. */
  body: string;
}

export type Script = (n: number, req: Request) => Response | Promise<Response>;

export interface Receiver {
  url: string;
  received: Received[];
  /** Call the receiver directly (what the consumer's `fetch` dependency expects). */
  fetch: (input: Request | string | URL, init?: RequestInit) => Promise<Response>;
}

const receivers = new Map<string, Receiver>();

export function makeReceiver(script: Script = () => new Response('ok', { status: 200 })): Receiver {
  const url = `https://hooks.example.com/r/${unique('rcv')}`;
  const received: Received[] = [];
  const receiver: Receiver = {
    url,
    received,
    fetch: async (input, init) => {
      const req = new Request(input, init);
      const body = await req.text();
      received.push({ url: req.url, headers: Object.fromEntries(req.headers), body });
      return script(
        received.length,
        new Request(req.url, { method: req.method, headers: req.headers, body, signal: init?.signal ?? null }),
      );
    },
  };
  receivers.set(url, receiver);
  return receiver;
}

/** Routes outbound fetches to registered receivers; unknown example.com URLs fail like a dead host. */
export function installReceivers() {
  const real = globalThis.fetch.bind(globalThis);
  return vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const receiver = receivers.get(url);
    if (receiver) return receiver.fetch(input as Request | string | URL, init);
    if (new URL(url).hostname.endsWith('example.com')) throw new TypeError(`connect ECONNREFUSED (${url})`);
    return real(input, init);
  });
}
