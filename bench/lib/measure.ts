/** A figure measured several times: its median and range. */
export interface Figure {
  median: number
  min: number
  max: number
  runs: number[]
}

/** Runs `measure` `runs` times (at least 3) and summarises the results. */
export async function repeat(runs: number, measure: () => Promise<number> | number): Promise<Figure> {
  const values: number[] = []
  for (let i = 0; i < Math.max(3, runs); i++) values.push(await measure())
  return summarise(values)
}

/**
 * Runs every measure once per round, `runs` rounds, so that what the machine does meanwhile
 * (and the allocator's warming up) falls on all of them alike; one figure per measure.
 */
export async function interleaved<K extends string>(runs: number, measures: Record<K, () => Promise<number> | number>): Promise<Record<K, Figure>> {
  const values = Object.fromEntries(Object.keys(measures).map((key) => [key, [] as number[]])) as Record<K, number[]>
  for (let i = 0; i < Math.max(3, runs); i++) {
    for (const key of Object.keys(measures) as K[]) values[key].push(await measures[key]())
  }
  return Object.fromEntries(Object.entries<number[]>(values).map(([key, list]) => [key, summarise(list)])) as Record<K, Figure>
}

/** Median, min and max of some values. */
export function summarise(values: number[]): Figure {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: values }
}

/** The p-th percentile (0..100) of some values. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Operations per second of `operation`, run `count` times back to back. */
export async function opsPerSecond(count: number, operation: (i: number) => Promise<unknown> | unknown): Promise<number> {
  const started = process.hrtime.bigint()
  for (let i = 0; i < count; i++) await operation(i)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return count / seconds
}

/** Operations per second with `lanes` callers running at once, `count` operations in all. */
export async function concurrentOpsPerSecond(count: number, lanes: number, operation: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) await operation(next++)
    }),
  )
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return count / seconds
}
