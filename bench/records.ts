// Record look-ups, the call every list and page of an app makes: on PostgreSQL beside the
// raw `pg` driver running the same primary-key SELECT on the same pool, and a page of 50
// records in one call beside 50 calls one after another (on PostgreSQL and on SQLite).

import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { benchSchema, openBenchPool } from './lib/postgres.js'
import { concurrentOpsPerSecond, opsPerSecond, repeat, summarise } from './lib/measure.js'
import { record, section } from './lib/report.js'
import { makeTempDir, removeTempDir, writeBenchImages } from './http.js'

const PAGE = 50

export async function runRecordsBench(options: { quick?: boolean }): Promise<void> {
  const quick = options.quick === true
  const reps = 3
  const title = `Record look-ups: PostgreSQL beside the raw pg driver, a page of ${PAGE} in one call beside ${PAGE} calls`
  const pool = await openBenchPool(title)
  if (!pool) return
  section(title, 'the pg driver on the same pool; one call per record')
  const { createFilesystemBlobStore, createPixstoreBackend, createPostgresMetadataStore } = await import('../src/backend/index.js')
  const tmp = makeTempDir('pixstore-bench-records-')
  const schema = benchSchema()
  const secrets = { statelessProofSecret: randomBytes(32).toString('base64'), masterKeys: `bench:${randomBytes(32).toString('base64')}` }
  const pgBackend = createPixstoreBackend({
    ...secrets,
    metadataStore: createPostgresMetadataStore({ pool, schema }),
    blobStore: createFilesystemBlobStore({ dir: path.join(tmp, 'blobs') }),
  })
  const localBackend = createPixstoreBackend({ dataDir: path.join(tmp, 'embedded') })
  try {
    const source = writeBenchImages(path.join(tmp, 'source'))[0]!.file
    const ids = Array.from({ length: PAGE }, (_, i) => `player-${i}`)
    for (const id of ids) {
      await pgBackend.saveImageFromFile(source, { id })
      await localBackend.saveImageFromFile(source, { id })
    }
    const select = `SELECT * FROM "${schema}".pixstore_images WHERE id = $1`
    const pixstoreOne = async (i: number) => {
      if (!(await pgBackend.getImageRecordAsync(ids[i % PAGE]!))) throw new Error('no record')
    }
    const driverOne = async (i: number) => {
      if ((await pool.query(select, [ids[i % PAGE]!])).rows.length !== 1) throw new Error('no row')
    }
    // Warm up: the pool's connections, the unwrapped keys, the JIT.
    await concurrentOpsPerSecond(400, 16, pixstoreOne)
    await concurrentOpsPerSecond(400, 16, driverOne)

    const count = quick ? 1000 : 3000
    const atLeast = (ratio: number) => ({ text: `≥ ×${ratio}`, met: (r: number) => r >= ratio })
    const sequential = { pixstore: [] as number[], driver: [] as number[] }
    const sixteen = { pixstore: [] as number[], driver: [] as number[] }
    // Interleaved, so that a noisy moment hits both sides alike.
    const pair = async (lanes: number, into: { pixstore: number[]; driver: number[] }) => {
      const run = (op: (i: number) => Promise<void>) => (lanes === 1 ? opsPerSecond(count, op) : concurrentOpsPerSecond(count * 2, lanes, op))
      into.pixstore.push(await run(pixstoreOne))
      into.driver.push(await run(driverOne))
    }
    for (let rep = 0; rep < reps; rep++) {
      await pair(1, sequential)
      await pair(16, sixteen)
    }
    record({
      workload: 'getImageRecordAsync on PG, 1 caller',
      unit: 'ops/s',
      pixstore: summarise(sequential.pixstore),
      baseline: summarise(sequential.driver),
      baselineName: 'pg driver, same SELECT, same pool',
      better: 'higher',
      target: atLeast(0.85),
    })
    record({
      workload: 'getImageRecordAsync on PG, 16 callers',
      unit: 'ops/s',
      pixstore: summarise(sixteen.pixstore),
      baseline: summarise(sixteen.driver),
      baselineName: 'pg driver, same SELECT, same pool',
      better: 'higher',
      target: atLeast(0.85),
    })

    // A page: pages per second, one call for the page beside one call per record.
    const pages = quick ? 100 : 300
    const pgBatch = await repeat(reps, () => opsPerSecond(pages, () => pgBackend.getImageRecordsAsync(ids)))
    const pgOneByOne = await repeat(reps, () =>
      opsPerSecond(pages / 5, async () => {
        for (const id of ids) await pgBackend.getImageRecordAsync(id)
      }),
    )
    record({
      workload: `getImageRecordsAsync, ${PAGE} ids, on PG`,
      unit: 'pages/s',
      pixstore: pgBatch,
      baseline: pgOneByOne,
      baselineName: `${PAGE} × getImageRecordAsync`,
      better: 'higher',
      target: atLeast(10),
    })
    const localBatch = await repeat(reps, () => opsPerSecond(pages * 5, () => localBackend.getImageRecords(ids)))
    const localOneByOne = await repeat(reps, () =>
      opsPerSecond(pages * 5, () => {
        for (const id of ids) localBackend.getImageRecord(id)
      }),
    )
    record({
      workload: `getImageRecords, ${PAGE} ids, embedded`,
      unit: 'pages/s',
      pixstore: localBatch,
      baseline: localOneByOne,
      baselineName: `${PAGE} × getImageRecord`,
      better: 'higher',
    })
  } finally {
    await Promise.all([pgBackend.close(), localBackend.close()])
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await pool.end()
    removeTempDir(tmp)
  }
}
