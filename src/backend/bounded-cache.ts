/**
 * A map that forgets its oldest entries beyond `limit`: for values that are cheap to
 * recompute but worth not recomputing on every request (unwrapped keys, proofs).
 */
export function createBoundedCache<V>(limit: number) {
  const entries = new Map<string, V>()
  return {
    get: (key: string) => entries.get(key),
    set(key: string, value: V): V {
      if (entries.size >= limit) entries.delete(entries.keys().next().value as string)
      entries.set(key, value)
      return value
    },
  }
}
