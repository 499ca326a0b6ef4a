/** The entries of `value` whose value is not undefined: "merge only defined values" (options at the edge). */
export function definedEntries<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
