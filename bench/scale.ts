// Pixstore on the scale-out stores (PostgreSQL metadata, S3 blobs on an s3rver) beside the
// embedded stores (SQLite, files): the image route under load (record look-ups: bench/records.ts).
// Each server (and s3rver) runs in a process of its own; autocannon runs here.

import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import { summarise } from './lib/measure.js'
import { record, section } from './lib/report.js'
import { checkRun, loadRun, makeTempDir, pixstoreRequest, removeTempDir, runSeconds, startServer, writeBenchImages, type LoadResult, type ServerProcess } from './http.js'
import type { SavedImage } from './servers/http-server.js'

const pgUrl = process.env.PIXSTORE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

async function postgresReachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return (error as Error).message || String(error)
  } finally {
    await client.end().catch(() => undefined)
  }
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

export async function runScaleBench(options: { quick?: boolean }): Promise<void> {
  const quick = options.quick === true
  const duration = quick ? 1 : 2
  const reps = 3
  // s3rver sends a 5 MB object at a little over 100 MB/s here, and the S3 client holds 50
  // sockets: a round of 100 such responses takes about 3 s.
  const longRun = 4
  const title = 'Scale-out stores: PostgreSQL + S3 (s3rver, a test double, in its own process) beside the embedded SQLite + files'

  const unreachable = await postgresReachable()
  if (unreachable !== undefined) {
    console.log(
      `\n## ${title}\nSKIPPED: PostgreSQL is not reachable at ${pgUrl} (${unreachable}). ` +
        'Start one, or set PIXSTORE_BENCH_PG_URL to a database the bench may create a schema in.',
    )
    return
  }

  section(
    `${title} (autocannon ${duration} s × ${reps} runs a case, ${longRun} s for 5 MB × 100 conn; Updated payload)`,
    'the same route on the embedded stores',
  )
  const started = Date.now()
  const tmp = makeTempDir('pixstore-bench-scale-')
  const schema = `pixstore_bench_${process.pid}_${randomBytes(4).toString('hex')}`
  const proofSecret = randomBytes(32).toString('base64')
  const masterKey = `bench:${randomBytes(32).toString('base64')}`
  const servers: ServerProcess[] = []
  const closers: (() => Promise<void>)[] = []
  let schemaUsed = false
  try {
    const s3 = await startServer({ mode: 's3', dataDir: path.join(tmp, 's3') })
    servers.push(s3)
    const s3Options = { endpoint: String(s3.info.endpoint), bucket: String(s3.info.bucket) }
    schemaUsed = true
    const sources = writeBenchImages(path.join(tmp, 'source'))
    const [shared, embedded] = await Promise.all([
      startServer({
        mode: 'pixstore',
        dataDir: path.join(tmp, 'shared-data'),
        images: sources,
        shared: { pgUrl, schema, s3: s3Options, proofSecret, masterKey },
      }),
      startServer({ mode: 'pixstore', dataDir: path.join(tmp, 'embedded-data'), images: sources }),
    ])
    servers.push(shared, embedded)
    console.log(`(processes: s3rver pid ${s3.pid}, Pixstore on PG + S3 pid ${shared.pid}, embedded Pixstore pid ${embedded.pid}; load generator pid ${process.pid})`)
    const images = shared.info.images as SavedImage[]
    const embeddedImages = embedded.info.images as SavedImage[]
    const contenders = [
      { name: 'PostgreSQL + S3', server: shared, images },
      { name: 'embedded', server: embedded, images: embeddedImages },
    ]

    // Both answer an Updated payload of the right length (its key and token differ per store).
    for (const { name, server, images: saved } of contenders) {
      for (const image of saved) {
        const { url, headers } = pixstoreRequest(server, image, 'Updated')
        const response = await fetch(url, { headers })
        const body = new Uint8Array(await response.arrayBuffer())
        if (response.status !== 200 || body[0] !== 1 || body.byteLength !== image.updatedBytes) {
          throw new Error(`${name} ${image.id}: expected 200 with a ${image.updatedBytes}-byte Updated payload, got ${response.status} with ${body.byteLength} bytes`)
        }
      }
    }
    // The Updated payload is what the load runs fetch; the Success one must work too.
    for (const image of images) {
      const { url, headers } = pixstoreRequest(shared, image, 'Success')
      const body = new Uint8Array(await (await fetch(url, { headers })).arrayBuffer())
      if (body[0] !== 0 || body.byteLength !== image.successBytes) throw new Error(`PostgreSQL + S3 ${image.id}: the Success payload is wrong`)
    }

    for (const { server, images: saved } of contenders) {
      for (const image of saved) {
        const { url, headers } = pixstoreRequest(server, image, 'Updated')
        await loadRun(url, 10, 0.3, headers)
      }
    }

    const labels = sources.map((image) => image.label)
    for (const [index, image] of images.entries()) {
      for (const connections of [10, 100]) {
        const runs: LoadResult[][] = [[], []]
        for (let rep = 0; rep < reps; rep++) {
          for (const [i, contender] of contenders.entries()) {
            const target = contender.images[index]!
            const { url, headers } = pixstoreRequest(contender.server, target, 'Updated')
            const run = await loadRun(url, connections, runSeconds(duration, target.updatedBytes, connections, quick, longRun), headers)
            await checkRun(`${contender.name} ${image.label} Updated ${connections} conn run ${rep + 1}`, run, target.updatedBytes, { url, headers })
            runs[i]!.push(run)
          }
        }
        const fig = (i: number, key: 'rps' | 'p99') => summarise(runs[i]!.map((run) => run[key]))
        const workload = `PG + s3rver: route Updated, ${connections} conn`
        const size = labels[index] ?? image.label
        record({ workload, size, unit: 'req/s', pixstore: fig(0, 'rps'), baseline: fig(1, 'rps'), baselineName: 'embedded', better: 'higher' })
        record({ workload, size, unit: 'ms p99', pixstore: fig(0, 'p99'), baseline: fig(1, 'p99'), baselineName: 'embedded', better: 'lower' })
      }
    }

    console.log(`(scale-out bench took ${((Date.now() - started) / 1000).toFixed(0)} s)`)
  } finally {
    for (const close of closers) await close().catch(() => undefined)
    // Servers first: the Pixstore server holds connections to the schema.
    await Promise.all(servers.map((server) => server.close().catch(() => undefined)))
    if (schemaUsed) await dropSchema(schema).catch((error: unknown) => console.warn(`WARNING could not drop schema ${schema}: ${(error as Error).message}`))
    removeTempDir(tmp)
  }
}
