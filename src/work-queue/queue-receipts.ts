/**
 * The claim queue as one request sees it: claims and completions are written by the account's
 * ClaimQueue object, not by the Worker, so their D1 bookmark comes back in the object's answer
 * (`withReceipt`) and joins the request's session (the answer's `X-D1-Bookmark`). With a hop
 * meter, each call counts as a hop plus the D1 round trips the object made behind it.
 * Routes keep calling `queueFor(env, ...)`: the entry hands them this namespace in env.
 */
import type { RequestSession } from '../db/session';
import { namespaceWithStubs, stubWithOverrides, type HopMeter } from '../platform/hops';
import type { ClaimQueue, ReceiptMethod } from './claim-queue';

const RECEIPT_METHODS: ReceiptMethod[] = ['claimNext', 'claimTask', 'commit'];
/** The object's other calls: no D1 write a client reads back (their own D1 work is off the request's path). */
const PLAIN_METHODS = ['abandon', 'wake', 'noteLease'] as const;

type Queues = DurableObjectNamespace<ClaimQueue>;
type Receipted = { value: unknown; receipt: { bookmark: string | null; d1RoundTrips: number } };

export function receiptedQueues(ns: Queues, session: RequestSession, meter?: HopMeter): Queues {
  return namespaceWithStubs(ns, (stub) => {
    const raw = stub as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const hop = <T>(call: () => Promise<T>, further?: (value: T) => number) => (meter ? meter.hop(call, further) : call());
    const overrides: Record<string, unknown> = {};
    for (const method of RECEIPT_METHODS) {
      overrides[method] = async (...args: unknown[]) => {
        const { value, receipt } = await hop(() => raw.withReceipt!(method, args) as Promise<Receipted>, (r) => r.receipt.d1RoundTrips);
        session.note(receipt.bookmark);
        return value;
      };
    }
    if (meter) for (const method of PLAIN_METHODS) overrides[method] = (...args: unknown[]) => hop(() => raw[method]!(...args));
    return stubWithOverrides(stub, overrides);
  }) as Queues;
}
