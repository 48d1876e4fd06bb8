import type * as grpc from '@grpc/grpc-js';

/**
 * Wraps every method's response serializer of `definition` with a cache keyed by the response
 * object: when a frontend writes the same (immutable) response object to many streams, as
 * BalanceLoad does when one change fans out to every subscriber, it is encoded once, not once per
 * stream. The cache holds responses weakly, so it never keeps one alive. Called by
 * startLbServer when it adds a frontend's service; the objects written must not be mutated.
 */
export function withSharedSerialization<D extends grpc.ServiceDefinition>(definition: D): D {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    const m = method as grpc.MethodDefinition<unknown, unknown>;
    const serialize = m.responseSerialize;
    const cache = new WeakMap<object, Buffer>();
    out[name] = {
      ...m,
      responseSerialize: (value: unknown): Buffer => {
        if (typeof value !== 'object' || value === null) return serialize(value);
        let bytes = cache.get(value);
        if (!bytes) {
          bytes = serialize(value);
          cache.set(value, bytes);
        }
        return bytes;
      },
    };
  }
  return out as D;
}
