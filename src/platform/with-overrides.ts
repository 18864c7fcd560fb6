/**
 * An object that answers some properties itself and reads every other one from `target`, its
 * methods bound to `target`: the runtime's D1 bindings and statements only work called on
 * themselves, so a wrapper must forward with the right receiver.
 */
export function withOverrides<T extends object>(target: T, overrides: { [K in keyof T]?: T[K] }): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(overrides, prop)) return (overrides as Record<string | symbol, unknown>)[prop];
      const value = Reflect.get(t, prop, t) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}
