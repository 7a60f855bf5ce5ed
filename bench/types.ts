/** One section of `npm run bench`: a table and what it means. */
export interface BenchSection {
  title: string;
  rows: Record<string, string | number>[];
  notes: string[];
}

/** p-th percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
