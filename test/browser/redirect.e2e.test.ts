import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createNodeHandler, createPixstoreBackend, createS3BlobStore, createSqliteMetadataStore, type PixstoreBackend } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
import { browserBuild } from '../../demo/browser-build.js'
import { samplePicture } from '../../demo/sample-images.js'
import { tempDir } from '../helpers.js'
import { startS3 } from '../stores/services.js'
import { browserTestsEnabled } from './chromium.js'
import { countingRoute, openRoutePage, routePageCode, type RouteCounts } from './route-page.js'

interface Counts extends RouteCounts {
  /** Requests the object store got, by method. */
  s3: Record<string, number>
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const listen = async (server: http.Server, host: string) => {
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  return `http://${host}:${(server.address() as AddressInfo).port}`
}


describe.runIf(browserTestsEnabled())('redirect delivery from S3 (s3rver, bucket CORS as documented) in Chromium', () => {
  const data = tempDir()
  let s3: Awaited<ReturnType<typeof startS3>>
  let backend: PixstoreBackend
  let browser: Browser
  let page: Page
  let appOrigin: string
  let apiOrigin: string
  const servers: http.Server[] = []
  const counts: Counts = { s3: {}, route: {}, routeBodyBytes: 0 }
  const originals = new Map<string, string>()
  let records: ImageRecord[] = []

  beforeAll(async () => {
    s3 = await startS3({ cors: true })
    // A proxy in front of s3rver that counts what the object store is asked (preflights included).
    const s3Target = new URL(s3.endpoint)
    const s3Proxy = http.createServer((req, res) => {
      counts.s3[req.method!] = (counts.s3[req.method!] ?? 0) + 1
      const upstream = http.request({ host: s3Target.hostname, port: s3Target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers)
        answer.pipe(res)
      })
      req.pipe(upstream)
    })
    servers.push(s3Proxy)
    const s3Endpoint = await listen(s3Proxy, '127.0.0.1')

    backend = createPixstoreBackend({
      metadataStore: createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') }),
      blobStore: createS3BlobStore({ ...s3.options, endpoint: s3Endpoint, redirect: { expiresInSeconds: 60 } }),
    })
    for (let i = 0; i < 6; i++) {
      const image = samplePicture(i, 60 + i * 20)
      const record = await backend.saveImage(image, { id: `r${i}` })
      originals.set(record.id, sha256(image))
    }
    records = await Promise.all([...originals.keys()].map(async (id) => (await backend.getImageRecordAsync(id))!))

    const bundle = await build({ ...browserBuild, stdin: { contents: routePageCode, resolveDir: path.resolve('.'), loader: 'js' } })
    const script = bundle.outputFiles[0]!.text
    const route = countingRoute(createNodeHandler(backend), counts)
    const app = http.createServer((req, res) => {
      if (req.url!.startsWith('/pixstore-image/')) return route(req, res)
      if (req.url === '/page.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script)
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><script type="module" src="/page.js"></script>')
    })
    const api = http.createServer((req, res) => route(req, res))
    servers.push(app, api)
    appOrigin = await listen(app, 'localhost')
    apiOrigin = await listen(api, '127.0.0.1')
    ;({ browser, page } = await openRoutePage(appOrigin))
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    for (const server of servers) server.closeAllConnections()
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    await backend?.close()
    await s3?.stop()
    data.remove()
  })

  const run = async (routeOrigin: string, dbName: string) => {
    for (const key of Object.keys(counts.s3)) delete counts.s3[key]
    for (const key of Object.keys(counts.route)) delete counts.route[Number(key)]
    counts.routeBodyBytes = 0
    const hashes = await page.evaluate(
      ([origin, list, name]) => (window as unknown as { loadAll(o: string, r: ImageRecord[], n: string): Promise<string[]> }).loadAll(origin, list, name),
      [routeOrigin, records, dbName] as const,
    )
    expect(hashes).toEqual(records.map((record) => originals.get(record.id)))
    return structuredClone(counts)
  }

  it('cross-origin: every cold image is one redirect and one GET from the bucket, no preflight, and Node writes no image byte', async () => {
    const seen = await run(apiOrigin, 'cross')
    expect(seen.route).toEqual({ 302: 6 })
    expect(seen.routeBodyBytes).toBe(0)
    expect(seen.s3).toEqual({ GET: 6 })
  })

  it('same origin: the first answer tells the page, and every image after it comes from the bucket, no preflight', async () => {
    const seen = await run('', 'same')
    expect(seen.route).toEqual({ 200: 1, 302: 5 })
    expect(seen.s3).toEqual({ GET: 5 + 1 }) // the route's own read of the first image, then the browser's five
  })

  it('a variant comes from the bucket too: one redirect, one GET, no image byte from Node', async () => {
    const record = await backend.saveImage(samplePicture(7, 120), { id: 'with-variants', variants: { widths: [32], formats: ['webp'] } })
    for (const key of Object.keys(counts.s3)) delete counts.s3[key]
    for (const key of Object.keys(counts.route)) delete counts.route[Number(key)]
    counts.routeBodyBytes = 0
    const shown = await page.evaluate(
      ([origin, r]) => (window as unknown as { loadWidth(o: string, r: ImageRecord, w: number, n: string): Promise<unknown> }).loadWidth(origin, r, 30, 'variant'),
      [apiOrigin, record] as const,
    )
    expect(shown).toEqual({ type: 'image/webp', width: 32 })
    expect(counts).toEqual({ s3: { GET: 1 }, route: { 302: 1 }, routeBodyBytes: 0 })
  })

  it('a record of an older version gets the new image inline (Updated), and a warm load asks nothing', async () => {
    const stale = records[0]!
    const replacement = samplePicture(40, 90)
    for (const key of Object.keys(counts.s3)) delete counts.s3[key]
    await backend.updateImage(stale.id, replacement)
    // The replaced object is deleted right after the update resolves.
    await vi.waitFor(() => expect(counts.s3.DELETE).toBe(1))
    originals.set(stale.id, sha256(replacement))
    const cold = await run(apiOrigin, 'after-update')
    expect(cold.route).toEqual({ 200: 1, 302: 5 })
    expect(cold.s3).toEqual({ GET: 1 + 5 })
    records[0] = (await backend.getImageRecordAsync(stale.id))!
    const warm = await run(apiOrigin, 'after-update')
    expect(warm.route).toEqual({})
    expect(warm.s3).toEqual({})
  })
})
