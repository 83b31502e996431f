// Responsive images: a grid of 50 photos of about 5 MB shown at 200 CSS px in Chromium, with
// variants against the same grid loading the originals, in the same run and the same browser;
// and the save time of a photo with 4 widths × 2 formats against the original alone.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import sharp from 'sharp'
import { createNodeHandler, createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
import { browserBuild } from '../demo/browser-build.js'
import { launchChromium } from '../test/browser/chromium.js'
import { tempDir } from '../test/helpers.js'
import { repeat, summarise } from './lib/measure.js'
import { record, section } from './lib/report.js'
import type { ResponsiveBench } from './responsive-page.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const GRID = 50
const variants = { widths: [160, 320, 640, 1280], formats: ['avif', 'webp'] } as const

/**
 * A photo-sized JPEG of about 5 MB (3000 × 2250), one look per `seed`: a gradient and a disc
 * under texture at several scales (blotches that survive a downscale, as a photo's detail
 * does) and fine grain (which, as in a photo, costs the original most of its bytes).
 */
async function photo(seed: number): Promise<Buffer> {
  const [width, height] = [3000, 2250]
  const noise = (w: number, h: number, sigma: number) =>
    sharp({ create: { width: w, height: h, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma } } }).png().toBuffer()
  const blotches = await sharp(await noise(width / 25, height / 25, 50)).resize(width, height, { kernel: 'cubic' }).png().toBuffer()
  const texture = await sharp(await noise(width / 5, height / 5, 40)).resize(width, height, { kernel: 'cubic' }).png().toBuffer()
  const gradient = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs><linearGradient id="g" x2="1" y2="1">` +
      `<stop offset="0" stop-color="hsl(${seed * 67} 60% 55%)"/><stop offset="1" stop-color="hsl(${seed * 67 + 120} 60% 35%)"/></linearGradient></defs>` +
      `<rect width="100%" height="100%" fill="url(#g)"/><circle cx="${900 + seed * 200}" cy="1000" r="600" fill="hsl(${seed * 67 + 200} 70% 80%)"/></svg>`,
  )
  const grain = await noise(width, height, 20)
  return sharp(gradient)
    .composite([blotches, texture, grain].map((input) => ({ input, blend: 'overlay' as const })))
    .jpeg({ quality: 96 })
    .toBuffer()
}

async function bundlePage(): Promise<string> {
  const result = await build({ ...browserBuild, entryPoints: [path.join(root, 'bench/responsive-page.ts')], absWorkingDir: root, tsconfigRaw: { compilerOptions: {} } })
  return result.outputFiles[0]!.text
}

async function serve(backend: PixstoreBackend, script: string): Promise<{ server: Server; origin: string }> {
  const route = createNodeHandler(backend)
  const server = createServer((req, res) => {
    if (req.url!.startsWith('/pixstore-image/')) return void route(req, res)
    if (req.url === '/page.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script)
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><body><script type="module" src="/page.js"></script></body>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

export async function runResponsiveBench({ quick = false } = {}): Promise<void> {
  const data = tempDir('pixstore-bench-responsive-')
  const backend = createPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, inlineImageMaxBytes: 0 })
  const runs = quick ? 3 : 5
  try {
    const photos = await Promise.all([0, 1, 2, 3, 4].map(photo))
    const mb = (bytes: number) => bytes / 2 ** 20
    section(
      'Responsive images (Chromium, a grid of 50 photos at 200 × 150 CSS px, cold cache)',
      `the same grid loading the originals (${mb(photos.reduce((s, p) => s + p.length, 0) / photos.length).toFixed(1)} MB each on average)`,
    )
    // Save time: one photo at a time, with the variants and without.
    let n = 0
    const saveMs = async (withVariants: boolean) => {
      const started = performance.now()
      await backend.saveImage(photos[n % photos.length]!, { id: `save-${withVariants ? 'v' : 'o'}-${n++}`, variants: withVariants ? variants : false })
      return performance.now() - started
    }
    await saveMs(true)
    const withVariants = await repeat(runs, () => saveMs(true))
    const alone = await repeat(runs, () => saveMs(false))
    record({ workload: 'save a photo with 4 widths × 2 formats', size: '5 MB', unit: 'ms', pixstore: withVariants, baseline: alone, baselineName: 'original alone', better: 'lower' })

    const ids: string[] = []
    for (let i = 0; i < GRID; i++) ids.push((await backend.saveImage(photos[i % photos.length]!, { id: `grid-${i}`, variants })).id)
    // Records with fresh proofs for each grid; the originals' grid gets them without their variants.
    const fresh = () => backend.getImageRecords(ids) as ImageRecord[]
    const withoutVariants = (records: ImageRecord[]) => records.map(({ variants: _, placeholder: __, ...rest }) => rest)
    const { server, origin } = await serve(backend, await bundlePage())
    const browser = await launchChromium()
    try {
      for (const ratio of [1, 2]) {
        const grid = async (variantsShown: boolean) => {
          const shown = variantsShown ? fresh() : withoutVariants(fresh())
          const context = await browser.newContext({ viewport: { width: 1300, height: 900 }, deviceScaleFactor: ratio })
          try {
            const page = await context.newPage()
            await page.goto(origin)
            await page.waitForFunction(() => 'responsiveBench' in window)
            return await page.evaluate(
              ([r, db]) => (window as unknown as { responsiveBench: ResponsiveBench }).responsiveBench.grid(r, db),
              [shown, `bench-${Math.random()}`] as const,
            )
          } finally {
            await context.close()
          }
        }
        const results = { variants: [] as { ms: number; bytes: number; variants: string[] }[], originals: [] as { ms: number; bytes: number; variants: string[] }[] }
        for (let run = 0; run < runs; run++) {
          results.variants.push(await grid(true))
          results.originals.push(await grid(false))
        }
        const picked = [...new Set(results.variants[0]!.variants)].join(', ')
        record({
          workload: `grid bytes, DPR ${ratio} (loaded ${picked})`,
          size: '5 MB',
          unit: 'MB',
          pixstore: summarise(results.variants.map((r) => mb(r.bytes))),
          baseline: summarise(results.originals.map((r) => mb(r.bytes))),
          baselineName: 'originals',
          better: 'lower',
          target: { text: '≤ ×0.10', met: (ratio) => ratio <= 0.1 },
        })
        record({
          workload: `grid time until every image shows, DPR ${ratio}`,
          size: '5 MB',
          unit: 'ms',
          pixstore: summarise(results.variants.map((r) => r.ms)),
          baseline: summarise(results.originals.map((r) => r.ms)),
          baselineName: 'originals',
          better: 'lower',
          target: { text: '≤ ×0.30', met: (ratio) => ratio <= 0.3 },
        })
      }
    } finally {
      await browser.close()
      await new Promise((resolve) => server.close(resolve))
    }
  } finally {
    await backend.close()
    data.remove()
  }
}
