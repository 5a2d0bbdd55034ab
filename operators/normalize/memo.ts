/**
 * Memoizes a pure function of one string. normalize maps the same few spellings ("Active", "Sold",
 * "Ontario", "Square Feet") on every record, and the uncached path folds each one (NFD accent stripping,
 * case folding, regex clean-up), which is most of the cost of those lookups.
 *
 * The input decides the keys, so the cache is bounded: when it reaches `max` entries it is emptied and
 * refills with the spellings in use. The function must be pure (same input, same output, no effects) and
 * callers must not mutate what it returns, since the same value is handed out again.
 */
export function memoize<T>(fn: (s: string) => T, max = 1024): (s: string) => T {
  const cache = new Map<string, T>();
  return (s: string): T => {
    const hit = cache.get(s);
    if (hit !== undefined || cache.has(s)) return hit as T;
    const value = fn(s);
    if (cache.size >= max) cache.clear();
    cache.set(s, value);
    return value;
  };
}
