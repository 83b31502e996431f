import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The PostgreSQL server the benchmarks use. */
export const pgUrl = process.env.PIXSTORE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A schema name of the bench's own, to drop afterwards. */
export const benchSchema = () => `pixstore_bench_${process.pid}_${randomBytes(4).toString('hex')}`

/**
 * A pool on the bench's PostgreSQL, or `undefined` (after printing that section `title` is
 * skipped, and why) when it cannot be reached.
 */
export async function openBenchPool(title: string, max = 10): Promise<pg.Pool | undefined> {
  const pool = new pg.Pool({ connectionString: pgUrl, max, connectionTimeoutMillis: 5000 })
  try {
    await pool.query('SELECT 1')
    return pool
  } catch (error) {
    console.log(`\n## ${title}\nSKIPPED: PostgreSQL is not reachable at ${pgUrl} (${(error as Error).message}). Set PIXSTORE_BENCH_PG_URL.`)
    await pool.end()
    return undefined
  }
}
