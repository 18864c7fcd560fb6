/**
 * Counts the sequential remote hops of one request: each D1 round trip and each Durable Object
 * call is a network trip on Cloudflare (local runs hide them), and what a request waits on is
 * the longest chain of trips made one after another. Calls made in parallel count once.
 * A call is taken to follow every call that completed before it started (the conservative
 * reading); a Durable Object that reports its own D1 trips adds them behind its call. Only
 * calls completed when the answer is ready count: work left to `waitUntil` is off the path.
 * Like the D1 counter, it runs only on benchmark requests (`X-D1-Metrics: 1` with D1_METRICS=1).
 */
import { withOverrides } from './with-overrides';

export const HOPS_HEADER = 'X-Remote-Hops';

export class HopMeter {
  /** The longest chain of completed calls, one after another. */
  private longest = 0;

  /** Runs one remote call; `further` says how many trips the callee made in sequence behind it. */
  async hop<T>(call: () => Promise<T>, further?: (value: T) => number): Promise<T> {
    const after = this.longest;
    const value = await call();
    this.longest = Math.max(this.longest, after + 1 + (further?.(value) ?? 0));
    return value;
  }

  get count(): number {
    return this.longest;
  }
}

/** Per method name: the trips the object reports it made behind the call, or null for none. */
export type StubMethods = Record<string, ((value: unknown) => number) | null>;

/** A Durable Object namespace whose stubs count each call of `methods` as a hop. */
// biome-ignore lint/suspicious/noExplicitAny: any Durable Object class; the namespace is handed back as it came
export function meteredNamespace<N extends DurableObjectNamespace<any>>(ns: N, meter: HopMeter, methods: StubMethods): N {
  return namespaceWithStubs(ns, (stub) => {
    const overrides: Record<string, unknown> = {};
    for (const [name, further] of Object.entries(methods)) {
      overrides[name] = (...args: unknown[]) =>
        meter.hop(() => (stub as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(...args), further ?? undefined);
    }
    return stubWithOverrides(stub, overrides);
  });
}

/**
 * A Durable Object stub answering `overrides` itself and forwarding every other call to `stub`
 * (not `withOverrides`: an RPC stub's methods are remote, binding one is itself a call).
 */
export function stubWithOverrides(stub: DurableObjectStub, overrides: Record<string, unknown>): DurableObjectStub {
  return new Proxy(stub, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) return overrides[prop];
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (target as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[prop]!(...args);
    },
  });
}

/** A Durable Object namespace whose `get` hands out `wrap(stub)`. */
// biome-ignore lint/suspicious/noExplicitAny: any Durable Object class; the namespace is handed back as it came
export function namespaceWithStubs<N extends DurableObjectNamespace<any>>(ns: N, wrap: (stub: DurableObjectStub) => DurableObjectStub): N {
  const get = (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) =>
    wrap((ns as DurableObjectNamespace).get(id, options));
  return withOverrides(ns as DurableObjectNamespace, { get }) as unknown as N;
}
