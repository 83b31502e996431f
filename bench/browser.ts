// getImage in a real browser: Pixstore's frontend beside hand-written baselines in the same
// page and the same run. One in-process node:http server (reached on two ports, so two
// origins) serves the page, Pixstore's image route, a JSON route of records, and /raw/<id>,
// the very ciphertext Pixstore stores, bare. Chromium is the system one, driven through
// test/browser/chromium.ts. Every timing is taken in the page with performance.now().

import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { browserBuild } from '../demo/browser-build.js'
import type { Browser, Page } from 'playwright-core'
import type { PixstoreBackend } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
import { launchChromium } from '../test/browser/chromium.js'
import type { PixBench } from './browser-page.js'
import { benchImages } from './lib/images.js'
import { percentile, summarise } from './lib/measure.js'
import { record as recordRow, section, type Row } from './lib/report.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const RUNS = 3
const SIZES = ['small', 'medium', 'large'] as const
type Size = (typeof SIZES)[number]

// ---------------------------------------------------------------------------------------
// Set-up: build, bundle, serve.

function buildPackage(): void {
  const started = Date.now()
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  })
  console.log(`built dist/ in ${Date.now() - started} ms`)
}

/** The page script: bench/browser-page.ts with 'pixstore/frontend' resolved through package.json exports to dist/. */
async function bundlePage(): Promise<string> {
  const result = await build({
    ...browserBuild,
    entryPoints: [path.join(root, 'bench/browser-page.ts')],
    absWorkingDir: root,
    metafile: true,
    // tsconfig.json maps 'pixstore/*' to src/ for the type checker; the bench measures the
    // built package, as an app would bundle it.
    tsconfigRaw: { compilerOptions: {} },
  })
  const inputs = Object.keys(result.metafile.inputs)
  if (!inputs.some((file) => file.startsWith('dist/frontend/')) || inputs.some((file) => file.startsWith('src/'))) {
    throw new Error(`the page bundle should take pixstore/frontend from dist/, it took: ${inputs.join(', ')}`)
  }
  return result.outputFiles[0]!.text
}

const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pixstore browser bench</title><link rel="icon" href="data:,"></head>
<body><script type="module" src="/page.js"></script></body></html>`

/** Requests seen by the servers, by origin label, method and first path segment. */
class RequestCounter {
  private counts = new Map<string, number>()
  add(origin: string, method: string, prefix: string): void {
    const key = `${origin} ${method} ${prefix}`
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }
  reset(): void {
    this.counts.clear()
  }
  /** Requests to `prefix` on `origin`, every method (OPTIONS preflights included) unless one is named. */
  get(origin: string, prefix: string, method?: string): number {
    let n = 0
    for (const [key, value] of this.counts) {
      const [o, m, p] = key.split(' ')
      if (o === origin && p === prefix && (method === undefined || m === method)) n += value
    }
    return n
  }
}

interface Bench {
  backend: PixstoreBackend
  counter: RequestCounter
  /** Origin of the page. */
  main: string
  /** The same server on another port: another origin. */
  other: string
  servers: Server[]
}

async function startServers(backend: PixstoreBackend, script: string): Promise<Bench> {
  const { createNodeHandler } = await import('pixstore/backend')
  const imageRoute = createNodeHandler(backend)
  const counter = new RequestCounter()

  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array) => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' }).end(body)
  }
  const listener = (origin: string) => async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://bench')
    const prefix = `/${url.pathname.split('/')[1] ?? ''}`
    counter.add(origin, req.method ?? 'GET', prefix)
    try {
      if (prefix === '/pixstore-image') return await imageRoute(req, res)
      if (url.pathname === '/') return send(res, 200, 'text/html; charset=utf-8', html)
      if (url.pathname === '/page.js') return send(res, 200, 'text/javascript; charset=utf-8', script)
      if (url.pathname === '/api/records') {
        const ids = (url.searchParams.get('ids') ?? '').split(',').filter(Boolean)
        const records = ids.map((id) => backend.getImageRecord(id))
        if (records.some((r) => r === null)) return send(res, 404, 'application/json', '{"error":"NOT_FOUND"}')
        return send(res, 200, 'application/json', JSON.stringify({ records }))
      }
      if (prefix === '/raw') {
        // The same work as Pixstore's route (proof check, metadata read, file read), then the
        // bare ciphertext: the Success payload without its state byte.
        const id = decodeURIComponent(url.pathname.slice('/raw/'.length))
        const payload = await backend.customEndpointHelper(id, url.searchParams.get('token'), url.searchParams.get('proof'))
        if (payload[0] !== 0) return send(res, 404, 'text/plain', `payload state ${payload[0]}`)
        const body = payload.subarray(1)
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': body.byteLength,
          'Cache-Control': 'no-store',
          'Access-Control-Allow-Origin': '*',
        })
        return void res.end(body)
      }
      send(res, 404, 'text/plain', 'Not found')
    } catch (error) {
      console.error('[bench server]', error)
      if (!res.headersSent) send(res, 500, 'text/plain', 'Internal error')
      else res.destroy()
    }
  }
  const listen = (origin: string) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((req, res) => void listener(origin)(req, res))
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve(server))
    })
  const servers: Server[] = []
  try {
    servers.push(await listen('main'))
    servers.push(await listen('other'))
  } catch (error) {
    await closeServers(servers)
    throw error
  }
  const origin = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`
  return { backend, counter, main: origin(servers[0]!), other: origin(servers[1]!), servers }
}

async function closeServers(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    ),
  )
}

/** Records through the JSON route, as an app's API would hand them out. */
async function fetchRecords(bench: Bench, ids: string[]): Promise<ImageRecord[]> {
  const out: ImageRecord[] = []
  for (let i = 0; i < ids.length; i += 100) {
    const response = await fetch(`${bench.main}/api/records?ids=${ids.slice(i, i + 100).map(encodeURIComponent).join(',')}`)
    if (!response.ok) throw new Error(`/api/records answered ${response.status}`)
    out.push(...((await response.json()) as { records: ImageRecord[] }).records)
  }
  return out
}

// ---------------------------------------------------------------------------------------
// Pages.

/** Runs `scenario` in a fresh browser context (fresh IndexedDB, caches, preflight cache). */
async function inFreshPage<T>(browser: Browser, bench: Bench, scenario: (page: Page) => Promise<T>): Promise<T> {
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') console.error(`[page ${message.type()}] ${message.text()}`)
    })
    await page.goto(`${bench.main}/`)
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 20_000 })
    return await scenario(page)
  } finally {
    await context.close()
  }
}

/** Calls a method of `window.pixBench` in the page. */
function call<K extends keyof PixBench>(page: Page, method: K, ...args: Parameters<PixBench[K]>): Promise<Awaited<ReturnType<PixBench[K]>>> {
  return page.evaluate(
    ([m, a]) => (window.pixBench[m as keyof PixBench] as (...x: unknown[]) => unknown)(...(a as unknown[])),
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<PixBench[K]>>>
}

/**
 * The tab's JS heap before `run` and its peak while `run` goes on, sampled through CDP
 * (`Performance.getMetrics`, JSHeapUsedSize) as fast as the protocol answers.
 */
async function heapDuring<T>(page: Page, run: () => Promise<T>): Promise<{ result: T; growthMB: number; samples: number }> {
  const cdp = await page.context().newCDPSession(page)
  try {
    await cdp.send('Performance.enable')
    await cdp.send('HeapProfiler.enable')
    await cdp.send('HeapProfiler.collectGarbage')
    const heap = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN
    const before = await heap()
    let peak = before
    let samples = 0
    let done = false
    const sampler = (async () => {
      while (!done) {
        peak = Math.max(peak, await heap())
        samples++
      }
    })()
    let result: T
    try {
      result = await run()
    } finally {
      done = true
      await sampler
    }
    peak = Math.max(peak, await heap())
    return { result, growthMB: (peak - before) / 1e6, samples }
  } finally {
    await cdp.detach().catch(() => undefined)
  }
}

// ---------------------------------------------------------------------------------------
// Rows.

const fig = (values: number[]) => summarise(values)
const p50s = (runs: number[][]) => fig(runs.map((t) => percentile(t, 50)))
const p95s = (runs: number[][]) => fig(runs.map((t) => percentile(t, 95)))
const atMost = (limit: number, text = `≤ ×${limit}`): Row['target'] => ({ text, met: (ratio) => ratio <= limit })
const exactlyOne: Row['target'] = { text: 'exactly 1', met: (_ratio, row) => row.pixstore.min === 1 && row.pixstore.max === 1 }
const below = (limit: number, unit: string): Row['target'] => ({ text: `< ${limit} ${unit}`, met: (_ratio, row) => row.pixstore.median < limit })

/** Runs Pixstore's and the baseline's loops RUNS times, alternating which goes first. */
async function alternate(pix: () => Promise<number[]>, base: () => Promise<number[]>): Promise<{ pix: number[][]; base: number[][] }> {
  const out = { pix: [] as number[][], base: [] as number[][] }
  for (let r = 0; r < RUNS; r++) {
    if (r % 2 === 0) {
      out.pix.push(await pix())
      out.base.push(await base())
    } else {
      out.base.push(await base())
      out.pix.push(await pix())
    }
  }
  return out
}

function latencyRows(workload: string, size: string, runs: { pix: number[][]; base: number[][] }, baselineName: string, target: Row['target']): void {
  recordRow({ workload: `${workload}, p50`, size, unit: 'ms', pixstore: p50s(runs.pix), baseline: p50s(runs.base), baselineName, better: 'lower', target })
  recordRow({ workload: `${workload}, p95`, size, unit: 'ms', pixstore: p95s(runs.pix), baseline: p95s(runs.base), baselineName, better: 'lower' })
}

// ---------------------------------------------------------------------------------------
// The run.

/** Runs the browser workloads and records their rows. */
export async function runBrowserBench(options: { quick?: boolean }): Promise<void> {
  const quick = options.quick === true
  const started = Date.now()
  const iterations: Record<Size, number> = quick ? { small: 10, medium: 10, large: 4 } : { small: 30, medium: 30, large: 10 }
  const LRU_FILL = 2000
  const LRU_LIMIT = 1000

  buildPackage()
  const script = await bundlePage()
  const { createPixstoreBackend } = await import('pixstore/backend')

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixstore-browser-bench-'))
  let backend: PixstoreBackend | undefined
  let bench: Bench | undefined
  let browser: Browser | undefined
  const stop = () => {
    // A signal mid-run: the browser is a child process and the temp dir is ours.
    void browser?.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    backend = createPixstoreBackend({ dataDir, statelessKeyWindowLength: -1 })
    bench = await startServers(backend, script)

    // Images: one per size, 100 copies of the small one, and the base of the LRU copies.
    const images = benchImages()
    const label: Record<Size, string> = { small: images[0]!.label, medium: images[1]!.label, large: images[2]!.label }
    const bytesOf: Record<Size, Buffer> = { small: images[0]!.bytes, medium: images[1]!.bytes, large: images[2]!.bytes }
    const save = async (bytes: Buffer, id: string) => {
      if (!(await backend!.saveImage(bytes, { id }))) throw new Error(`saving ${id} failed`)
    }
    for (const size of SIZES) await save(bytesOf[size], `img-${size}`)
    const savingStarted = Date.now()
    const manyIds = Array.from({ length: 100 }, (_, i) => `many-${i}`)
    for (const id of manyIds) await save(bytesOf.small, id)
    const savingMs = Date.now() - savingStarted
    await save(bytesOf.small, 'lru-base')

    const sized = await fetchRecords(bench, SIZES.map((s) => `img-${s}`))
    const rec = Object.fromEntries(SIZES.map((s, i) => [s, sized[i]!])) as Record<Size, ImageRecord>
    const many = await fetchRecords(bench, manyIds)
    const [lruBase] = await fetchRecords(bench, ['lru-base'])

    browser = await launchChromium()
    console.log(
      `\nbrowser: Chromium ${browser.version()} headless; page ${bench.main}, second origin ${bench.other}; ` +
        `N = ${iterations.small}/${iterations.medium}/${iterations.large} per run, ${RUNS} runs${quick ? ' (quick)' : ''}; ` +
        `100 small images saved in ${savingMs} ms`,
    )
    const b = bench
    let lapStarted = Date.now()
    const lap = () => {
      console.log(`  (section: ${((Date.now() - lapStarted) / 1000).toFixed(0)} s)`)
      lapStarted = Date.now()
    }

    // 1. Warm getImage.
    section(
      'Browser: warm getImage (cache hit)',
      'in the same page: IndexedDB get of the same ciphertext from its own database ({token, data: ArrayBuffer}) + WebCrypto AES-GCM decrypt + new Blob',
    )
    await inFreshPage(browser, b, async (page) => {
      for (const size of SIZES) {
        const runs = await alternate(
          () => call(page, 'pixWarm', rec[size], iterations[size]),
          () => call(page, 'baseWarm', rec[size], iterations[size]),
        )
        latencyRows('warm getImage', label[size], runs, 'IDB get + decrypt + Blob', atMost(1.2))
      }
    })

    lap()

    // 2. Cold getImage.
    section(
      'Browser: cold getImage (empty cache, same origin)',
      'lookup (miss) + fetch(/raw/id) of the same ciphertext + WebCrypto decrypt + IndexedDB put, Blob returned once the put commits; ' +
        'second row: the same, Blob returned before the put commits; third row: the same fetching Pixstore\'s route with its headers (payload minus its state byte)',
    )
    await inFreshPage(browser, b, async (page) => {
      for (const size of SIZES) {
        const pix: number[][] = []
        const base: number[][] = []
        const early: number[][] = []
        const route: number[][] = []
        for (let r = 0; r < RUNS; r++) {
          const order = [
            async () => pix.push(await call(page, 'pixCold', rec[size], iterations[size])),
            async () => base.push(await call(page, 'baseCold', rec[size], iterations[size], true, 'raw')),
            async () => early.push(await call(page, 'baseCold', rec[size], iterations[size], false, 'raw')),
            async () => route.push(await call(page, 'baseCold', rec[size], iterations[size], true, 'route')),
          ]
          for (let k = 0; k < order.length; k++) await order[(k + r) % order.length]!()
        }
        latencyRows('cold getImage', label[size], { pix, base }, 'fetch + decrypt + put', atMost(1.1))
        recordRow({
          workload: 'cold getImage vs Blob before put, p50',
          size: label[size],
          unit: 'ms',
          pixstore: p50s(pix),
          baseline: p50s(early),
          baselineName: 'fetch + decrypt, put not awaited',
          better: 'lower',
        })
        recordRow({
          workload: 'cold getImage vs baseline on its route, p50',
          size: label[size],
          unit: 'ms',
          pixstore: p50s(pix),
          baseline: p50s(route),
          baselineName: "baseline fetching Pixstore's route",
          better: 'lower',
        })
      }
    })
    lap()

    // 3. 100 distinct small images.
    section(
      'Browser: 100 distinct small images, total',
      'the same baselines (cold: lookup + fetch(/raw) + decrypt + put; warm: IDB get + decrypt + Blob), same page',
    )
    await inFreshPage(browser, b, async (page) => {
      type Key = 'coldSeq' | 'warmSeq' | 'coldPar' | 'warmPar'
      const pix: Record<Key, number[]> = { coldSeq: [], warmSeq: [], coldPar: [], warmPar: [] }
      const base: Record<Key, number[]> = { coldSeq: [], warmSeq: [], coldPar: [], warmPar: [] }
      const runPix = async () => {
        await call(page, 'clearAll')
        pix.coldSeq.push(await call(page, 'pixMany', many, 'sequential'))
        pix.warmSeq.push(await call(page, 'pixMany', many, 'sequential'))
        await call(page, 'clearAll')
        pix.coldPar.push(await call(page, 'pixMany', many, 'parallel'))
        pix.warmPar.push(await call(page, 'pixMany', many, 'parallel'))
      }
      const runBase = async () => {
        await call(page, 'clearAll')
        base.coldSeq.push(await call(page, 'baseManyCold', many, 'sequential'))
        base.warmSeq.push(await call(page, 'baseManyWarm', many, 'sequential'))
        await call(page, 'clearAll')
        base.coldPar.push(await call(page, 'baseManyCold', many, 'parallel'))
        base.warmPar.push(await call(page, 'baseManyWarm', many, 'parallel'))
      }
      await alternate(
        async () => (await runPix(), []),
        async () => (await runBase(), []),
      )
      const rows: [Key, string, string, Row['target']][] = [
        ['coldSeq', '100 cold, sequential awaits', 'fetch + decrypt + put', atMost(1.1)],
        ['coldPar', '100 cold, Promise.all', 'fetch + decrypt + put', atMost(1.1)],
        ['warmSeq', '100 warm, sequential awaits', 'IDB get + decrypt + Blob', atMost(1.2)],
        ['warmPar', '100 warm, Promise.all', 'IDB get + decrypt + Blob', atMost(1.2)],
      ]
      for (const [key, workload, baselineName, target] of rows) {
        recordRow({ workload, size: label.small, unit: 'ms', pixstore: fig(pix[key]), baseline: fig(base[key]), baselineName, better: 'lower', target })
      }
    })

    lap()

    // 4. Requests per cold image, same origin and cross origin.
    section(
      'Browser: requests per cold image, counted at the server (OPTIONS preflights included)',
      'fetch(/raw/id?token&proof) of the same ciphertext, no custom header; cross-origin: page on origin 1, image route on origin 2; a fresh context (empty preflight cache) per run',
    )
    {
      const perSize = { same: {} as Record<Size, number[]>, cross: {} as Record<Size, number[]>, baseSame: {} as Record<Size, number[]>, baseCross: {} as Record<Size, number[]> }
      for (const key of Object.keys(perSize) as (keyof typeof perSize)[]) for (const size of SIZES) perSize[key][size] = []
      const crossMany = { pixReq: [] as number[], baseReq: [] as number[], pixMs: [] as number[], baseMs: [] as number[], preflights: [] as number[] }
      for (let r = 0; r < RUNS; r++) {
        await inFreshPage(browser, b, async (page) => {
          // Same origin.
          await call(page, 'init', {})
          for (const size of SIZES) {
            await call(page, 'clearAll')
            b.counter.reset()
            await call(page, 'pixMany', [rec[size]], 'sequential')
            perSize.same[size].push(b.counter.get('main', '/pixstore-image'))
            b.counter.reset()
            await call(page, 'baseManyCold', [rec[size]], 'sequential')
            perSize.baseSame[size].push(b.counter.get('main', '/raw'))
          }
          // Cross origin.
          await call(page, 'init', { defaultEndpointConnectHost: b.other })
          for (const size of SIZES) {
            await call(page, 'clearAll')
            b.counter.reset()
            await call(page, 'pixMany', [rec[size]], 'sequential')
            perSize.cross[size].push(b.counter.get('other', '/pixstore-image') + b.counter.get('main', '/pixstore-image'))
            b.counter.reset()
            await call(page, 'baseManyCold', [rec[size]], 'sequential', b.other)
            perSize.baseCross[size].push(b.counter.get('other', '/raw') + b.counter.get('main', '/raw'))
          }
          await call(page, 'clearAll')
          b.counter.reset()
          crossMany.pixMs.push(await call(page, 'pixMany', many, 'sequential'))
          crossMany.pixReq.push(b.counter.get('other', '/pixstore-image') / many.length)
          crossMany.preflights.push(b.counter.get('other', '/pixstore-image', 'OPTIONS'))
          b.counter.reset()
          crossMany.baseMs.push(await call(page, 'baseManyCold', many, 'sequential', b.other))
          crossMany.baseReq.push(b.counter.get('other', '/raw') / many.length)
        })
      }
      for (const size of SIZES) {
        const common = { size: label[size], unit: 'req', baselineName: 'fetch(/raw)', better: 'lower' as const, target: exactlyOne }
        recordRow({ workload: 'requests per cold image, same-origin', pixstore: fig(perSize.same[size]), baseline: fig(perSize.baseSame[size]), ...common })
        recordRow({ workload: 'requests per cold image, cross-origin', pixstore: fig(perSize.cross[size]), baseline: fig(perSize.baseCross[size]), ...common })
      }
      recordRow({
        workload: '100 distinct cold, cross-origin: req/image',
        size: label.small,
        unit: 'req',
        pixstore: fig(crossMany.pixReq),
        baseline: fig(crossMany.baseReq),
        baselineName: 'fetch(/raw)',
        better: 'lower',
        target: exactlyOne,
      })
      recordRow({
        workload: '100 distinct cold, cross-origin, sequential',
        size: label.small,
        unit: 'ms',
        pixstore: fig(crossMany.pixMs),
        baseline: fig(crossMany.baseMs),
        baselineName: 'fetch(/raw) + decrypt + put',
        better: 'lower',
        target: atMost(1.1),
      })
      console.log(`  cross-origin OPTIONS preflights for 100 distinct images, per run: ${crossMany.preflights.join(', ')}`)
    }

    lap()

    // 5. 20 concurrent getImage calls for one record.
    section(
      'Browser: 20 concurrent getImage calls for one record (empty cache), requests at the server',
      '20 concurrent naive (lookup + fetch(/raw) + decrypt + put), no de-duplication',
    )
    await inFreshPage(browser, b, async (page) => {
      for (const size of SIZES) {
        const pix: number[] = []
        const base: number[] = []
        for (let r = 0; r < RUNS; r++) {
          b.counter.reset()
          const ok = await call(page, 'pixConcurrent', rec[size], 20)
          if (ok !== 20) throw new Error(`20 concurrent getImage: ${ok} returned the image`)
          pix.push(b.counter.get('main', '/pixstore-image'))
          b.counter.reset()
          await call(page, 'baseConcurrent', rec[size], 20)
          base.push(b.counter.get('main', '/raw'))
        }
        recordRow({ workload: '20 concurrent calls, one record', size: label[size], unit: 'req', pixstore: fig(pix), baseline: fig(base), baselineName: 'naive', better: 'lower', target: exactlyOne })
      }
    })

    lap()

    // 6. LRU clean-up over 2,000 entries.
    section(
      `Browser: LRU clean-up, ${LRU_FILL.toLocaleString('en-US')} cached entries, limit lowered to ${LRU_LIMIT.toLocaleString('en-US')}`,
      `a custom fetcher serves one small image's payload from memory under ${LRU_FILL} ids (no network); baselines: Pixstore's two-store shape in a ` +
        'database of their own, one put, then count() and the oldest keys from the lastUsed index in one getAllKeys, deleted in the same ' +
        'transaction, or in a second transaction after the put has committed',
    )
    await inFreshPage(browser, b, async (page) => {
      // One fill through getImage (2,000 calls), timed per 100; the other runs start from
      // copies of the filled database, taken before any eviction.
      await call(page, 'init', { frontendImageCacheLimit: LRU_FILL, indexedDbName: 'lru-0' }, lruBase!)
      const perHundred: number[] = []
      for (let from = 0; from < LRU_FILL; from += 100) perHundred.push((await call(page, 'pixFillCopies', 'lru-', from, 100)) / 100)
      const filled = await call(page, 'cacheStats')
      if (filled?.entries !== LRU_FILL) throw new Error(`LRU fill: ${filled?.entries} entries cached, expected ${LRU_FILL}`)
      const copyStarted = Date.now()
      for (let r = 1; r < RUNS; r++) await call(page, 'copyDatabase', 'lru-0', `lru-${r}`)
      const copyMs = Date.now() - copyStarted

      const memorySource = await page.evaluate(() =>
        crossOriginIsolated && 'measureUserAgentSpecificMemory' in performance
          ? 'measureUserAgentSpecificMemory available, CDP used for the peak'
          : 'performance.measureUserAgentSpecificMemory unavailable (the page is not cross-origin isolated), so CDP Performance.getMetrics JSHeapUsedSize: peak of samples minus the value after a forced GC',
      )
      const lru = { ms: [] as number[], mb: [] as number[], sameTxMs: [] as number[], sameTxMb: [] as number[], afterMs: [] as number[], afterMb: [] as number[] }
      const full = { pix: [] as number[], empty: [] as number[] }
      const samples: number[] = []
      for (let r = 0; r < RUNS; r++) {
        await call(page, 'init', { frontendImageCacheLimit: LRU_LIMIT, indexedDbName: `lru-${r}` }, lruBase!)
        const evict = await heapDuring(page, () => call(page, 'pixCopy', 'lru-', LRU_FILL))
        lru.ms.push(evict.result)
        lru.mb.push(evict.growthMB)
        samples.push(evict.samples)
        const after = await call(page, 'cacheStats')
        if (after?.entries !== LRU_LIMIT) throw new Error(`LRU eviction: ${after?.entries} entries left, expected ${LRU_LIMIT}`)

        // Steady state: cold getImage with the cache full (each evicts one entry), beside the
        // same call on an empty cache.
        const fullTimes: number[] = []
        for (let i = 1; i <= 10; i++) fullTimes.push(await call(page, 'pixCopy', 'lru-', LRU_FILL + 10 * r + i))
        full.pix.push(percentile(fullTimes, 50))
        await call(page, 'init', { frontendImageCacheLimit: LRU_LIMIT, indexedDbName: 'lru-empty' }, lruBase!)
        const emptyTimes: number[] = []
        for (let i = 0; i < 10; i++) {
          await call(page, 'clearAll')
          emptyTimes.push(await call(page, 'pixCopy', 'e-', i))
        }
        full.empty.push(percentile(emptyTimes, 50))

        for (const evictAfter of [false, true]) {
          await call(page, 'baseLruFill', LRU_FILL)
          const base = await heapDuring(page, () => call(page, 'baseLruPutEvict', LRU_LIMIT, evictAfter))
          ;(evictAfter ? lru.afterMs : lru.sameTxMs).push(base.result)
          ;(evictAfter ? lru.afterMb : lru.sameTxMb).push(base.growthMB)
          const left = await call(page, 'baseLruCount')
          if (left !== LRU_LIMIT) throw new Error(`baseline LRU eviction: ${left} entries left`)
        }
      }
      const size = label.small
      const evicting = `getImage evicting 1,001 of ${(LRU_FILL + 1).toLocaleString('en-US')}`
      const sameTx = 'put + getAllKeys eviction, one tx'
      const afterwards = 'put, eviction in a later tx'
      recordRow({ workload: evicting, size, unit: 'ms', pixstore: fig(lru.ms), baseline: fig(lru.sameTxMs), baselineName: sameTx, better: 'lower', target: below(50, 'ms') })
      recordRow({ workload: 'getImage evicting 1,001, vs evict later', size, unit: 'ms', pixstore: fig(lru.ms), baseline: fig(lru.afterMs), baselineName: afterwards, better: 'lower' })
      recordRow({ workload: 'JS heap growth during it', size, unit: 'MB', pixstore: fig(lru.mb), baseline: fig(lru.sameTxMb), baselineName: sameTx, better: 'lower', target: below(5, 'MB') })
      recordRow({ workload: `cold getImage, cache full (${LRU_LIMIT}), p50 of 10`, size, unit: 'ms', pixstore: fig(full.pix), baseline: fig(full.empty), baselineName: 'same call, empty cache', better: 'lower' })
      for (const [from, to] of [[0, 100], [LRU_FILL / 2 - 100, LRU_FILL / 2], [LRU_FILL - 100, LRU_FILL]] as const) {
        recordRow({
          workload: `fill: ms/getImage at ${from.toLocaleString('en-US')}–${to.toLocaleString('en-US')} entries`,
          size,
          unit: 'ms',
          pixstore: fig([perHundred[from / 100]!]),
          better: 'lower',
        })
      }
      const fillTotal = perHundred.reduce((sum, ms) => sum + ms * 100, 0)
      console.log(`  fill: ${LRU_FILL} getImage in ${(fillTotal / 1000).toFixed(1)} s (one fill; ${RUNS - 1} copies of the filled database in ${copyMs} ms)`)
      console.log(`  memory: ${memorySource}; ${samples.join('/')} heap samples during the evicting call per run`)
    })
    lap()
    console.log(`\nbrowser bench: ${((Date.now() - started) / 1000).toFixed(0)} s`)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await browser?.close().catch(() => undefined)
    if (bench) await closeServers(bench.servers)
    await backend?.close().catch(() => undefined)
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
