import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build } from 'esbuild'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeHandler, createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
import { browserBuild } from '../../demo/browser-build.js'
import { photo, tempDir } from '../helpers.js'
import { browserTestsEnabled, launchChromium } from './chromium.js'

interface PageApi {
  mount(record: ImageRecord, attributes: Record<string, string>, style?: string): void
  mountHook(record: ImageRecord, width: number): void
  setHookWidth(width: number): void
  shifts(): number
}
declare global {
  interface Window {
    page: PageApi
  }
}

describe.runIf(browserTestsEnabled())('responsive images in Chromium', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  let server: Server
  let origin: string
  let browser: Browser
  let photoRecord: ImageRecord
  // Requests to the image route wait here while `held` is set, so a test sees the loading state.
  let held: Promise<void> | undefined
  let release: () => void = () => undefined
  const hold = () => {
    held = new Promise<void>((resolve) => (release = resolve))
  }

  const open = async (options: BrowserContextOptions = {}): Promise<Page> => {
    const page = await (await browser.newContext({ viewport: { width: 800, height: 600 }, ...options })).newPage()
    await page.goto(origin)
    await page.waitForFunction(() => 'page' in window)
    return page
  }
  const element = (page: Page, id: string) =>
    page.locator(`pixstore-image[data-id="${id}"]`).evaluate((el) => {
      const box = el.getBoundingClientRect()
      const placeholder = getComputedStyle(el.shadowRoot!.querySelector('.placeholder')!)
      return {
        state: (el as HTMLElement).dataset.state,
        variant: (el as HTMLElement).dataset.variant,
        width: Math.round(box.width),
        height: Math.round(box.height),
        preview: placeholder.backgroundImage.startsWith('url("data:image/png'),
        tint: placeholder.backgroundColor,
        natural: el.shadowRoot!.querySelector('img')!.naturalWidth,
      }
    })

  beforeAll(async () => {
    backend = createPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, variants: { widths: [160, 320, 640], formats: ['avif', 'webp'] } })
    photoRecord = await backend.saveImage(await photo(1000, 750), { id: 'photo' })
    const handler = createNodeHandler(backend)
    const bundle = await build({ ...browserBuild, minify: false, entryPoints: ['test/browser/responsive-page.tsx'], define: { 'process.env.NODE_ENV': '"development"' }, tsconfigRaw: { compilerOptions: { jsx: 'react-jsx' } } })
    const script = bundle.outputFiles[0]!.text
    server = createServer((req, res) => {
      if (req.url!.startsWith('/pixstore-image/')) return void (held ?? Promise.resolve()).then(() => handler(req, res))
      if (req.url === '/page.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script)
      res.writeHead(200, { 'Content-Type': 'text/html' })
      res.end('<!doctype html><body style="margin:0"><div id="images"></div><p id="after">Text after the images.</p><div id="hook"></div><script type="module" src="/page.js"></script></body>')
    })
    await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
    origin = `http://localhost:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
  }, 60_000)
  afterAll(async () => {
    release()
    await browser?.close()
    await new Promise((resolve) => server?.close(resolve))
    await backend?.close()
    data.remove()
  })

  it('reserves its box in every state and shows the placeholder before any request answers, shifting nothing', async () => {
    const page = await open()
    hold()
    // Another image (the photo's own loads and cache would answer for the same id and token).
    const forged = { ...(await backend.saveImage(await photo(400, 300))), statelessProof: 'A'.repeat(43) }
    await page.evaluate(
      ([r, f]) => {
        window.page.mount(r, { width: '64', height: '64', 'data-id': 'sized' })
        window.page.mount(f, { width: '64', height: '64', 'data-id': 'refused' })
        window.page.mount(r, { 'data-id': 'natural' })
      },
      [photoRecord, forged] as const,
    )
    // Loading: every box at its final size, the preview showing, nothing answered yet.
    expect(await element(page, 'sized')).toMatchObject({ state: 'loading', width: 64, height: 64, preview: true })
    // No attributes: the image's own shape, within the page's 800 pixels.
    expect(await element(page, 'natural')).toMatchObject({ state: 'loading', width: 800, height: 600, preview: true })
    // Inserting the elements moved the text after them; from here on, nothing may move.
    await page.waitForTimeout(300)
    const shiftedByInsertion = await page.evaluate(() => window.page.shifts())
    release()
    held = undefined
    await expect.poll(() => element(page, 'sized').then((e) => e.state)).toBe('loaded')
    await expect.poll(() => element(page, 'natural').then((e) => e.state)).toBe('loaded')
    expect(await element(page, 'sized')).toMatchObject({ width: 64, height: 64, variant: '160.avif', natural: 160 })
    expect(await element(page, 'natural')).toMatchObject({ width: 800, height: 600, variant: 'original', natural: 1000 })
    // Refused: the error state, visible at the reserved size in its own tint.
    await expect.poll(() => element(page, 'refused').then((e) => e.state)).toBe('error')
    expect(await element(page, 'refused')).toMatchObject({ width: 64, height: 64, preview: false, tint: 'rgb(251, 234, 234)' })
    await page.waitForTimeout(300)
    expect(await page.evaluate(() => window.page.shifts())).toBe(shiftedByInsertion)
    await page.context().close()
  })

  it.each([
    [1, '160.avif', '640.avif'],
    [2, '320.avif', 'original'],
  ])('at a device pixel ratio of %i picks by its rendered width, and moves up when it grows, never down', async (ratio, small, large) => {
    const page = await open({ deviceScaleFactor: ratio })
    await page.evaluate((r) => window.page.mount(r, { 'data-id': 'grows' }, 'width: 100px'), photoRecord)
    await expect.poll(() => element(page, 'grows').then((e) => e.variant)).toBe(small)
    await page.locator('pixstore-image[data-id="grows"]').evaluate((el) => ((el as HTMLElement).style.width = '500px'))
    await expect.poll(() => element(page, 'grows').then((e) => e.variant)).toBe(large)
    expect((await element(page, 'grows')).state).toBe('loaded')
    await page.locator('pixstore-image[data-id="grows"]').evaluate((el) => ((el as HTMLElement).style.width = '100px'))
    await page.waitForTimeout(300)
    expect((await element(page, 'grows')).variant).toBe(large)
    await page.context().close()
  })

  it('loads again only when the shown variant no longer covers its box, and frees every URL it made', async () => {
    const page = await open()
    await page.evaluate(() => {
      const seen: { created: string[]; revoked: string[] } = { created: [], revoked: [] }
      ;(window as unknown as { urls: typeof seen }).urls = seen
      const create = URL.createObjectURL.bind(URL)
      const revoke = URL.revokeObjectURL.bind(URL)
      URL.createObjectURL = (blob: Blob) => {
        const url = create(blob)
        seen.created.push(url)
        return url
      }
      URL.revokeObjectURL = (url: string) => {
        seen.revoked.push(url)
        revoke(url)
      }
    })
    const urls = () => page.evaluate(() => (window as unknown as { urls: { created: string[]; revoked: string[] } }).urls)
    await page.evaluate((r) => window.page.mount(r, { 'data-id': 'steps' }, 'width: 100px'), photoRecord)
    await expect.poll(() => element(page, 'steps').then((e) => e.variant)).toBe('160.avif')
    // 100 → 150 px: still covered by the 160-pixel variant; 150 → 170: the 320 one.
    for (const width of [110, 130, 150, 170]) {
      await page.locator('pixstore-image[data-id="steps"]').evaluate((el, w) => ((el as HTMLElement).style.width = `${w}px`), width)
      await page.waitForTimeout(150)
    }
    await expect.poll(() => element(page, 'steps').then((e) => e.variant)).toBe('320.avif')
    expect((await urls()).created).toHaveLength(2)
    await page.evaluate(() => document.querySelector('pixstore-image[data-id="steps"]')!.remove())
    const { created, revoked } = await urls()
    expect(new Set(revoked)).toEqual(new Set(created))
    await page.context().close()
  })

  it('a hidden element waits until it is shown to load the variant it then needs', async () => {
    const page = await open()
    await page.evaluate((r) => window.page.mount(r, { 'data-id': 'hidden' }, 'display: none; width: 300px'), photoRecord)
    await page.waitForTimeout(300)
    expect(await element(page, 'hidden')).toMatchObject({ state: 'loading', natural: 0 })
    await page.locator('pixstore-image[data-id="hidden"]').evaluate((el) => ((el as HTMLElement).style.display = 'inline-block'))
    await expect.poll(() => element(page, 'hidden').then((e) => e.variant)).toBe('320.avif')
    await page.context().close()
  })

  it('the hook takes a width, gives the placeholder and shape before the image, and moves up only', async () => {
    const page = await open()
    hold()
    await page.evaluate((r) => window.page.mountHook(r, 100), photoRecord)
    const figure = page.locator('#hook figure')
    await expect.poll(() => figure.evaluate((f) => f.dataset.placeholder!.slice(0, 22))).toBe('data:image/png;base64,')
    expect(await figure.evaluate((f) => [f.dataset.status, Number(f.dataset.aspect).toFixed(3)])).toEqual(['loading', '1.333'])
    release()
    held = undefined
    const natural = () => figure.evaluate((f) => f.querySelector('img')!.naturalWidth)
    await expect.poll(natural).toBe(160)
    await page.evaluate(() => window.page.setHookWidth(500))
    await expect.poll(natural).toBe(640)
    await page.evaluate(() => window.page.setHookWidth(100))
    await page.waitForTimeout(300)
    expect(await natural()).toBe(640)
    await page.context().close()
  })
})
