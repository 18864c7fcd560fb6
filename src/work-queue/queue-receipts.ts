/**
 * The claim queue as one request sees it: claims and completions are written by the account's
 * ClaimQueue object, not by the Worker, so their D1 bookmark comes back in the object's answer
 * (`withReceipt`) and joins the request's session (the answer's `X-D1-Bookmark`). With a hop
 * meter, each call counts as a hop plus the D1 round trips the object made behind it.
 * Routes and use-cases call `claimQueueOf(env, ...)`: the entry hands them this namespace in env.
 */
import type { D1Receipt, RequestSession } from '../db/session';
import type { RoundTripCounter } from '../platform/d1-metrics';
import { namespaceWithStubs, stubWithOverrides, type HopMeter } from '../platform/hops';
import type { ClaimQueue, ReceiptMethod } from './claim-queue';

const RECEIPT_METHODS: ReceiptMethod[] = ['claimNext', 'claimTask', 'commit'];
/** The object's other calls: no D1 write a client reads back (their own D1 work is off the request's path). */
const PLAIN_METHODS = ['abandon', 'wake', 'noteLease'] as const;

type Queues = DurableObjectNamespace<ClaimQueue>;
type Receipted = { value: unknown; receipt: D1Receipt };

/** Metrics: hops, and the object's statements and rows added to the request's D1 figures. */
export interface QueueMetrics {
  hops: HopMeter;
  d1: RoundTripCounter;
}

export function receiptedQueues(ns: Queues, session: RequestSession, metrics?: QueueMetrics): Queues {
  const meter = metrics?.hops;
  return namespaceWithStubs(ns, (stub) => {
    const raw = stub as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const hop = <T>(call: () => Promise<T>, further?: (value: T) => number) => (meter ? meter.hop(call, further) : call());
    const overrides: Record<string, unknown> = {};
    for (const method of RECEIPT_METHODS) {
      overrides[method] = async (...args: unknown[]) => {
        const { value, receipt } = await hop(
          () => raw.withReceipt!(method, args) as Promise<Receipted>,
          (r) => r.receipt.d1RoundTrips,
        );
        session.note(receipt.bookmark);
        if (metrics) {
          metrics.d1.statements = (metrics.d1.statements ?? 0) + (receipt.statements ?? 0);
          metrics.d1.rowsRead = (metrics.d1.rowsRead ?? 0) + (receipt.rowsRead ?? 0);
          metrics.d1.rowsWritten = (metrics.d1.rowsWritten ?? 0) + (receipt.rowsWritten ?? 0);
        }
        return value;
      };
    }
    if (meter) for (const method of PLAIN_METHODS) overrides[method] = (...args: unknown[]) => hop(() => raw[method]!(...args));
    return stubWithOverrides(stub, overrides);
  }) as Queues;
}
