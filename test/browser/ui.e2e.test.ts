import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeHandler, createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
import { browserBuild } from '../../demo/browser-build.js'
import { samplePicture } from '../../demo/sample-images.js'
import { tempDir } from '../helpers.js'
import { browserTestsEnabled, launchChromium } from './chromium.js'

// Every object URL the page makes or revokes, counted before any page code runs.
const spyOnObjectUrls = `
  window.__urls = { created: [], revoked: [] }
  const create = URL.createObjectURL.bind(URL), revoke = URL.revokeObjectURL.bind(URL)
  URL.createObjectURL = (blob) => { const url = create(blob); window.__urls.created.push(url); return url }
  URL.revokeObjectURL = (url) => { window.__urls.revoked.push(url); revoke(url) }
`

describe.runIf(browserTestsEnabled())('the element and the React hook in Chromium', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  let server: Server
  let origin: string
  let browser: Browser
  const requests = new Map<string, number>()
  let n = 0

  const save = async (): Promise<ImageRecord> => (await backend.saveImage(samplePicture(n++ % 12, 40), `ui${n}`))!
  const expired = (record: ImageRecord) => backend.getImageRecord(record.id, { issuedAt: Date.now() - 60_000 })!
  const requested = (id: string) => requests.get(id) ?? 0
  const state = (page: Page, selector: string) =>
    page.locator(selector).evaluate((el) => ({
      state: (el as HTMLElement).dataset.state ?? (el as HTMLElement).dataset.status,
      error: (el as HTMLElement).dataset.error,
      width: (el.shadowRoot?.querySelector('img') ?? el.querySelector('img'))!.naturalWidth,
    }))
  const urls = (page: Page) =>
    page.evaluate(() => (window as unknown as { __urls: { created: string[]; revoked: string[] } }).__urls)
  async function openPage(): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 800, height: 600 } })).newPage()
    await page.addInitScript(spyOnObjectUrls)
    await page.goto(origin)
    await page.waitForFunction(() => 'ui' in window)
    return page
  }

  beforeAll(async () => {
    backend = createPixstoreBackend({ dataDir: data.dir, statelessKeyWindowLength: 5_000 })
    const handler = createNodeHandler(backend)
    const bundle = await build({
      ...browserBuild,
      minify: false,
      entryPoints: ['test/browser/ui-page.tsx'],
      define: { 'process.env.NODE_ENV': '"development"' },
      // Resolve pixstore/* through the package's exports, to the built files.
      tsconfigRaw: { compilerOptions: { jsx: 'react-jsx' } },
    })
    const script = bundle.outputFiles[0]!.text
    server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://localhost')
      if (url.pathname.startsWith('/pixstore-image/')) {
        const id = decodeURIComponent(url.pathname.slice('/pixstore-image/'.length))
        requests.set(id, requested(id) + 1)
        return void handler(req, res)
      }
      if (url.pathname.startsWith('/api/record/')) {
        const record = backend.getImageRecord(decodeURIComponent(url.pathname.slice('/api/record/'.length)))
        return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(record))
      }
      if (url.pathname === '/ui.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script)
      res.writeHead(200, { 'Content-Type': 'text/html' })
      res.end('<!doctype html><body><div id="above"></div><div style="height:5000px"></div><div id="below"></div><script type="module" src="/ui.js"></script></body>')
    })
    await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
    origin = `http://localhost:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await new Promise((resolve) => server?.close(resolve))
    await backend?.close()
    data.remove()
  })

  it('the element shows images, loads lazily, shows and recovers from an expired proof, and frees every URL', async () => {
    const page = await openPage()
    const shown = [await save(), await save(), await save()]
    const lazy = await save()
    const stale = await save()
    const rescued = await save()
    await page.evaluate(
      (items) => (window as unknown as { ui: { mountElements(i: unknown[]): void } }).ui.mountElements(items),
      [...shown.map((record) => ({ record })), { record: lazy, lazy: true }, { record: expired(stale) }, { record: expired(rescued), refresh: true }],
    )
    for (const record of [...shown, rescued]) {
      await expect.poll(() => state(page, `pixstore-image[data-id="${record.id}"]`)).toMatchObject({ state: 'loaded' })
      expect((await state(page, `pixstore-image[data-id="${record.id}"]`)).width).toBe(40)
    }
    await expect.poll(() => state(page, `pixstore-image[data-id="${stale.id}"]`)).toMatchObject({ state: 'error', error: 'INVALID_PROOF' })
    const events = await page.evaluate(() => (window as unknown as { ui: { events(): string[] } }).ui.events())
    expect(events).toContain(`error ${stale.id} INVALID_PROOF`)
    expect(events).toContain(`load ${rescued.id}`)

    // Off-screen: nothing requested until it scrolls into view.
    expect((await state(page, `pixstore-image[data-id="${lazy.id}"]`)).state).toBe('loading')
    expect(requested(lazy.id)).toBe(0)
    await page.locator(`pixstore-image[data-id="${lazy.id}"]`).scrollIntoViewIfNeeded()
    await expect.poll(() => state(page, `pixstore-image[data-id="${lazy.id}"]`)).toMatchObject({ state: 'loaded' })
    expect(requested(lazy.id)).toBe(1)

    await page.evaluate(() => (window as unknown as { ui: { removeElements(): void } }).ui.removeElements())
    const { created, revoked } = await urls(page)
    expect(created.length).toBe(5)
    expect(new Set(revoked)).toEqual(new Set(created))
    expect(await page.evaluate(() => (window as unknown as { ui: { held(): number } }).ui.held())).toBe(0)
    await page.context().close()
  })

  it('the hook shows images under Strict Mode with one request each, loads lazily, recovers with refresh, and frees every URL on unmount', async () => {
    const page = await openPage()
    const shown = [await save(), await save(), await save()]
    const lazy = await save()
    const stale = await save()
    const rescued = await save()
    await page.evaluate(
      (items) => (window as unknown as { ui: { mountReact(i: unknown[]): void } }).ui.mountReact(items),
      [...shown.map((record) => ({ record })), { record: lazy, lazy: true }, { record: expired(stale) }, { record: expired(rescued), refresh: true }],
    )
    for (const record of [...shown, rescued]) {
      await expect.poll(() => state(page, `figure[data-id="${record.id}"]`)).toMatchObject({ state: 'loaded', width: 40 })
    }
    for (const record of shown) expect(requested(record.id)).toBe(1)
    await expect.poll(() => state(page, `figure[data-id="${stale.id}"]`)).toMatchObject({ state: 'error', error: 'INVALID_PROOF' })

    expect(requested(lazy.id)).toBe(0)
    await page.locator(`figure[data-id="${lazy.id}"]`).scrollIntoViewIfNeeded()
    await expect.poll(() => state(page, `figure[data-id="${lazy.id}"]`)).toMatchObject({ state: 'loaded' })
    expect(requested(lazy.id)).toBe(1)

    await page.evaluate(() => (window as unknown as { ui: { unmountReact(): void } }).ui.unmountReact())
    const { created, revoked } = await urls(page)
    expect(created.length).toBeGreaterThanOrEqual(5)
    expect(new Set(revoked)).toEqual(new Set(created))
    expect(await page.evaluate(() => (window as unknown as { ui: { held(): number } }).ui.held())).toBe(0)
    await page.context().close()
  })

  it('the hook reads its options only from the object given: a lazy planted on Object.prototype does not hold images back', async () => {
    const page = await openPage()
    const below = [await save(), await save()]
    await page.evaluate(() => {
      // What a prototype-pollution bug elsewhere in an app would leave behind.
      Object.defineProperty(Object.prototype, 'lazy', { value: true, configurable: true, writable: true })
      Object.defineProperty(Object.prototype, 'context', { value: 'planted', configurable: true, writable: true })
    })
    await page.evaluate((records) => (window as unknown as { ui: { mountPlainReactBelow(r: unknown[]): void } }).ui.mountPlainReactBelow(records), below)
    // Below the fold and never scrolled to: only a planted `lazy` would keep them waiting.
    for (const record of below) {
      await expect.poll(() => state(page, `figure[data-id="${record.id}"]`)).toMatchObject({ state: 'loaded', width: 40 })
    }
    await page.context().close()
  })
})
