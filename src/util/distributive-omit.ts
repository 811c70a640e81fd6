/** Omit<T, K> applied to each member of a union (a plain Omit merges the union into one shape). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
