// Redirect delivery on S3 (s3rver, a test double, in its own process) beside the image
// route proxying the same objects through Node, in the same Pixstore process and run:
// route requests per second, bytes the Node process writes per image, and its CPU time
// per 1,000 images. s3rver's own GET rate on the object is the ceiling of either.

import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { benchSchema, openBenchPool, pgUrl } from './lib/postgres.js'
import { summarise } from './lib/measure.js'
import { record, section } from './lib/report.js'
import { loadRun, makeTempDir, removeTempDir, startServer, writeBenchImages, type ServerProcess } from './http.js'
import type { SavedImage } from './servers/http-server.js'


export async function runRedirectBench(options: { quick?: boolean }): Promise<void> {
  const quick = options.quick === true
  const duration = quick ? 1 : 2
  const reps = 3
  const connections = 10
  const title = `Redirect delivery from S3 (s3rver) beside proxying through Node (autocannon ${duration} s × ${reps} runs, ${connections} conn, Success state)`
  const pool = await openBenchPool(title)
  if (!pool) return
  section(title, 'the same route, the same process, proxying the object; s3rver GET of the object: the ceiling')
  const tmp = makeTempDir('pixstore-bench-redirect-')
  const schema = benchSchema()
  const servers: ServerProcess[] = []
  try {
    const s3 = await startServer({ mode: 's3', dataDir: path.join(tmp, 's3') })
    servers.push(s3)
    const pixstore = await startServer({
      mode: 'pixstore',
      dataDir: path.join(tmp, 'data'),
      images: writeBenchImages(path.join(tmp, 'source')),
      shared: {
        pgUrl,
        schema,
        s3: { endpoint: String(s3.info.endpoint), bucket: String(s3.info.bucket) },
        proofSecret: randomBytes(32).toString('base64'),
        masterKey: `bench:${randomBytes(32).toString('base64')}`,
        redirect: true,
      },
    })
    servers.push(pixstore)
    for (const image of pixstore.info.images as SavedImage[]) {
      const route = `http://127.0.0.1:${pixstore.port}${String(pixstore.info.route)}/${encodeURIComponent(image.id)}?proof=${encodeURIComponent(image.proof)}&token=${image.token}`
      const [proxied, redirected] = [route, `${route}&redirect=1`]
      // The one answer each must be: the payload through Node, or a redirect to the object.
      const inline = await fetch(proxied)
      const inlineBytes = new Uint8Array(await inline.arrayBuffer())
      const moved = await fetch(redirected, { redirect: 'manual' })
      if (inline.status !== 200 || inlineBytes[0] !== 0 || inlineBytes.byteLength !== image.successBytes || moved.status !== 302 || !moved.headers.get('location')) {
        throw new Error(`${image.label}: expected a ${image.successBytes}-byte Success payload and a redirect, got ${inline.status} and ${moved.status}`)
      }
      await loadRun(proxied, connections, 0.3)
      await loadRun(redirected, connections, 0.3)

      const runs = { proxied: [] as Sample[], redirected: [] as Sample[], ceiling: [] as number[] }
      for (let rep = 0; rep < reps; rep++) {
        runs.proxied.push(await measured(pixstore, proxied, connections, duration))
        runs.redirected.push(await measured(pixstore, redirected, connections, duration))
        runs.ceiling.push((await loadRun(image.objectUrl!, connections, duration)).rps)
      }
      const figure = (list: Sample[], key: keyof Sample) => summarise(list.map((sample) => sample[key]))
      const base = { size: image.label, baselineName: 'the route proxying the object' }
      record({ ...base, workload: 'S3 route, redirect: route answers', unit: 'req/s', pixstore: figure(runs.redirected, 'rps'), baseline: figure(runs.proxied, 'rps'), better: 'higher' })
      record({
        ...base,
        workload: 'S3 route, redirect: Node bytes written per image',
        unit: 'B',
        pixstore: figure(runs.redirected, 'bytesPerImage'),
        baseline: figure(runs.proxied, 'bytesPerImage'),
        better: 'lower',
        target: { text: 'the answer headers only (< 1 KB)', met: (_ratio, row) => row.pixstore.max < 1024 },
      })
      record({ ...base, workload: 'S3 route, redirect: Node CPU per 1,000 images', unit: 'ms', pixstore: figure(runs.redirected, 'cpuPerThousand'), baseline: figure(runs.proxied, 'cpuPerThousand'), better: 'lower' })
      record({ workload: 's3rver GET of the object alone (the ceiling)', size: image.label, unit: 'req/s', pixstore: summarise(runs.ceiling), better: 'higher' })
    }
  } finally {
    await Promise.all(servers.map((server) => server.close().catch(() => undefined)))
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await pool.end()
    removeTempDir(tmp)
  }
}

interface Sample {
  rps: number
  bytesPerImage: number
  cpuPerThousand: number
}

/** One load run against the Pixstore process, with what it cost that process. */
async function measured(server: ServerProcess, url: string, connections: number, duration: number): Promise<Sample> {
  const before = await server.usage()
  const run = await loadRun(url, connections, duration)
  const after = await server.usage()
  const images = Math.max(1, run.completed)
  return {
    rps: run.rps,
    bytesPerImage: (after.bytesWritten - before.bytesWritten) / images,
    cpuPerThousand: ((after.cpuMs - before.cpuMs) / images) * 1000,
  }
}
