import fs from 'node:fs'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ImageRecord } from 'pixstore/types'
import { SAMPLE_SIZE, startDemo, type Demo } from '../../demo/server.js'
import { samplePicture } from '../../demo/sample-images.js'
import { decryptVariantPayload, fixture, sha256, tempDir } from '../helpers.js'
import { browserTestsEnabled, launchChromium } from './chromium.js'

interface Player {
  id: string
  name: string
  imageRecord: ImageRecord
}

declare global {
  interface Window {
    pixstoreDemo: {
      getImage(record: ImageRecord): Promise<Blob | null>
      lastError(): { code: string } | null
      getCacheStats(): Promise<{ entries: number; bytes: number } | null>
      cachedImageExists(id: string): Promise<boolean | null>
      deleteCachedImage(id: string): Promise<boolean | null>
      clearImageCache(): Promise<void | null>
      loadAll(): Promise<void>
      show(player: Player, record?: ImageRecord): Promise<void>
    }
  }
}

const screenshots = path.resolve('test-output/screenshots')

describe.runIf(browserTestsEnabled())('the demo in Chromium', () => {
  const data = tempDir()
  let demo: Demo
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let pageImageRequests = 0
  const imageRequestUrls: string[] = []
  const imageRequestProofHeaders: (string | undefined)[] = []
  const originals = new Map<string, string>()
  // What each card showed on first load: a variant's hash (or the original's).
  const shown = new Map<string, string>()

  const players = async () => ((await (await fetch(`${demo.url}/api/players`)).json()) as { players: Player[] }).players
  const cardState = (p: Page, id: string) =>
    p.locator(`article[data-id="${id}"]`).evaluate((card) => ({
      state: card.dataset.state,
      error: card.dataset.error,
      token: card.dataset.token,
      source: card.querySelector<HTMLElement>('.source')!.dataset.source,
      sha256: card.dataset.sha256,
      variant: card.dataset.variant,
      box: card.querySelector('pixstore-image')!.getBoundingClientRect().width,
      width: card.querySelector('pixstore-image')!.shadowRoot!.querySelector('img')!.naturalWidth,
      height: card.querySelector('pixstore-image')!.shadowRoot!.querySelector('img')!.naturalHeight,
    }))
  const open = async (p: Page, url = demo.url) => {
    await p.goto(url)
    await p.waitForSelector('body[data-ready="true"]', { timeout: 20_000 })
  }
  const blobHash = (p: Page, record: ImageRecord) =>
    p.evaluate(async (r) => {
      const blob = await window.pixstoreDemo.getImage(r)
      if (!blob) return { error: window.pixstoreDemo.lastError()?.code }
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()))
      return { sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') }
    }, record)

  beforeAll(async () => {
    demo = await startDemo({ port: 0, dataDir: data.dir, log: false })
    for (let i = 0; i < 12; i++) originals.set(`player-${i + 1}`, await sha256(samplePicture(i, SAMPLE_SIZE)))
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    page.on('request', (request) => {
      if (request.url().includes('/pixstore-image/')) {
        pageImageRequests++
        imageRequestUrls.push(request.url())
        imageRequestProofHeaders.push(request.headers()['x-pixstore-proof'])
      }
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await demo?.close()
    data.remove()
  })

  it('sends API answers that carry records with Cache-Control: no-store', async () => {
    for (const url of [`${demo.url}/api/players`, `${demo.url}/api/players/player-1`, `${demo.url}/api/players/player-1/expired-record`]) {
      const response = await fetch(url)
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('no-store')
    }
  })

  /** The hash of a variant as the image route serves it, decrypted here with the record's key. */
  const variantHash = async (record: ImageRecord, name: string) => {
    const headers = { 'x-pixstore-proof': record.statelessProof, 'x-pixstore-token': String(record.token), 'x-pixstore-variant': name }
    const payload = new Uint8Array(await (await fetch(`${demo.url}/pixstore-image/${record.id}`, { headers })).arrayBuffer())
    return sha256(decryptVariantPayload(payload, record, name))
  }

  it('displays every image as the smallest variant that covers its box, decrypted byte for byte, and the original on a click', async () => {
    await open(page)
    const list = await players()
    expect(list).toHaveLength(12)
    for (const player of list) {
      const card = await cardState(page, player.id)
      expect(card.state).toBe('loaded')
      expect(card.source).toBe('network')
      // At a device pixel ratio of 1, a card about 260 px wide needs the 320-pixel variant; Chromium decodes AVIF.
      const needed = Math.ceil(card.box)
      const best = player.imageRecord.variants!.filter((v) => v.format === 'avif' && v.width >= needed).sort((a, b) => a.width - b.width)[0]!
      expect(card.variant).toBe(`${best.width}.avif`)
      expect([card.width, card.height]).toEqual([best.width, best.height])
      expect(card.sha256).toBe(await variantHash(player.imageRecord, card.variant!))
      shown.set(player.id, card.sha256!)
    }
    await page.click('article[data-id="player-1"] .frame')
    await expect.poll(() => page.locator('article[data-id="player-1"]').evaluate((card) => card.dataset.fullSha256)).toBe(originals.get('player-1'))
    expect(await page.locator('#full img').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(SAMPLE_SIZE)
    await page.click('#full button')
    fs.mkdirSync(screenshots, { recursive: true })
    await page.screenshot({ path: path.join(screenshots, 'demo-desktop.png'), fullPage: true })
  })

  it('shows every image again after a reload with zero requests to the image route', async () => {
    const serverBefore = demo.imageRequests()
    const pageBefore = pageImageRequests
    await page.reload()
    await page.waitForSelector('body[data-ready="true"]')
    for (const player of await players()) {
      const card = await cardState(page, player.id)
      expect(card).toMatchObject({ state: 'loaded', source: 'cache', sha256: shown.get(player.id) })
    }
    expect(demo.imageRequests()).toBe(serverBefore)
    expect(pageImageRequests).toBe(pageBefore)
  })

  it('shows a replaced image on the next load, and to a stale record held from before', async () => {
    const stale = (await players()).find((p) => p.id === 'player-2')!.imageRecord
    const body = new FormData()
    body.append('image', new Blob([new Uint8Array(fixture('sample.jpg'))], { type: 'image/jpeg' }), 'new.jpg')
    const replaced = await fetch(`${demo.url}/api/players/player-2/image`, { method: 'PUT', body })
    expect(replaced.status).toBe(200)
    const newHash = await sha256(fixture('sample.jpg'))

    await page.click('#reload-all')
    await expect.poll(() => cardState(page, 'player-2').then((c) => c.sha256)).toBe(newHash)
    expect((await cardState(page, 'player-2')).state).toBe('loaded')
    expect(await blobHash(page, stale)).toEqual({ sha256: newHash })
    // 96 pixels wide: no variant is made of it, and the card shows the original.
    expect((await cardState(page, 'player-2')).variant).toBe('original')
    originals.set('player-2', newHash)
    shown.set('player-2', newHash)
  })

  it('keeps no key in IndexedDB', async () => {
    const dump = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open('pixstore')
        req.onsuccess = () => resolve(req.result)
        req.onerror = () => reject(req.error)
      })
      const hex = (buffer: ArrayBuffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('')
      const out: string[] = []
      for (const name of Array.from(db.objectStoreNames)) {
        const values = await new Promise<unknown[]>((resolve, reject) => {
          const req = db.transaction(name).objectStore(name).getAll()
          req.onsuccess = () => resolve(req.result)
          req.onerror = () => reject(req.error)
        })
        for (const value of values) out.push(JSON.stringify(value, (_k, v) => (v instanceof ArrayBuffer ? hex(v) : v)))
      }
      db.close()
      return out.join('\n')
    })
    expect(dump.length).toBeGreaterThan(1000)
    for (const player of await players()) {
      const key = Buffer.from(player.imageRecord.meta.key, 'base64')
      expect(dump).not.toContain(player.imageRecord.meta.key)
      expect(dump).not.toContain(key.toString('hex'))
    }
  })

  it('refuses a record whose proof has expired and shows an error state', async () => {
    const expired = (await (await fetch(`${demo.url}/api/players/player-3/expired-record`)).json()).imageRecord as ImageRecord
    await page.evaluate((id) => window.pixstoreDemo.deleteCachedImage(id), 'player-3')
    expect(await blobHash(page, expired)).toEqual({ error: 'INVALID_PROOF' })

    await page.click('article[data-id="player-3"] .expired')
    await expect.poll(() => cardState(page, 'player-3').then((c) => c.state)).toBe('error')
    expect((await cardState(page, 'player-3')).error).toBe('INVALID_PROOF')
    expect(await page.locator('article[data-id="player-3"] .error').isVisible()).toBe(true)
    // The element keeps its box in the error state, tinted.
    const element = page.locator('article[data-id="player-3"] pixstore-image')
    expect(await element.evaluate((el) => [el.dataset.state, Math.round(el.getBoundingClientRect().height) > 100])).toEqual(['error', true])
  })

  it('keeps at most 5 entries, the most recently used, with a cache limit of 5', async () => {
    const fresh = await browser.newContext()
    const small = await fresh.newPage()
    await open(small, `${demo.url}/?cacheLimit=5`)
    const list = await players()
    // Load the twelve one after another so that the use order is known.
    await small.evaluate(async (all) => {
      for (const player of all) await window.pixstoreDemo.show(player)
    }, list)
    expect((await small.evaluate(() => window.pixstoreDemo.getCacheStats()))!.entries).toBe(5)
    const cached = await small.evaluate(
      (ids) => Promise.all(ids.map((id) => window.pixstoreDemo.cachedImageExists(id))),
      list.map((p) => p.id),
    )
    expect(cached).toEqual(list.map((_, i) => i >= 7))
    await fresh.close()
  })

  it('makes one request for 20 concurrent getImage calls on one record', async () => {
    const record = (await players()).find((p) => p.id === 'player-5')!.imageRecord
    await page.evaluate((id) => window.pixstoreDemo.deleteCachedImage(id), 'player-5')
    const before = demo.imageRequests()
    const hashes = await page.evaluate(async (r) => {
      const blobs = await Promise.all(Array.from({ length: 20 }, () => window.pixstoreDemo.getImage(r)))
      return Promise.all(
        blobs.map(async (blob) => {
          const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob!.arrayBuffer()))
          return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
        }),
      )
    }, record)
    expect(demo.imageRequests() - before).toBe(1)
    expect(new Set(hashes)).toEqual(new Set([originals.get('player-5')]))
  })

  it('detects a tampered cached entry, removes it, fetches again and shows the right image', async () => {
    const player = (await players()).find((p) => p.id === 'player-4')!
    await page.evaluate((p) => window.pixstoreDemo.show(p), player)
    expect(await page.evaluate((id) => window.pixstoreDemo.cachedImageExists(id), player.id)).toBe(true)
    // The card's variant is cached under the id and the variant's name.
    const key = `${player.id}#${(await cardState(page, player.id)).variant}`
    await page.evaluate(async (id) => {
      const db = await new Promise<IDBDatabase>((resolve) => {
        const req = indexedDB.open('pixstore')
        req.onsuccess = () => resolve(req.result)
      })
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('blobs', 'readwrite')
        const store = tx.objectStore('blobs')
        const get = store.get(id)
        get.onsuccess = () => {
          const row = get.result as { token: number; data: ArrayBuffer }
          const bytes = new Uint8Array(row.data)
          bytes[bytes.length >> 1]! ^= 0xff
          store.put(row, id)
        }
        tx.oncomplete = () => resolve()
        tx.onerror = () => reject(tx.error)
      })
      db.close()
    }, key)
    const before = demo.imageRequests()
    await page.evaluate((p) => window.pixstoreDemo.show(p), player)
    const card = await cardState(page, player.id)
    expect(card).toMatchObject({ state: 'loaded', source: 'network', sha256: shown.get(player.id) })
    expect(demo.imageRequests() - before).toBe(1)
    // Repaired: the next load is a cache hit again.
    await page.evaluate((p) => window.pixstoreDemo.show(p), player)
    expect(demo.imageRequests() - before).toBe(1)
  })

  it('fits a phone-width window, loading variants for its device pixel ratio of 2', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true })
    const small = await phone.newPage()
    await open(small)
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    const card = await cardState(small, 'player-1')
    // Two columns of about 160 CSS px: twice that in device pixels, so the 320-pixel variant, not the 160.
    const record = (await players())[0]!.imageRecord
    const best = record.variants!.filter((v) => v.format === 'avif' && v.width >= Math.ceil(card.box * 2)).sort((a, b) => a.width - b.width)[0]!
    expect(best.width).toBeGreaterThan(card.box)
    expect(card.variant).toBe(`${best.width}.avif`)
    await small.screenshot({ path: path.join(screenshots, 'demo-phone.png') })
    await phone.close()
  })

  it.each([
    ['desktop, first visit', { viewport: { width: 1280, height: 900 } }],
    ['phone at a device pixel ratio of 2', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true }],
  ])('shifts no layout while the grid loads (Cumulative Layout Shift 0), %s', async (_name, options) => {
    const fresh = await browser.newContext(options)
    const p = await fresh.newPage()
    await p.addInitScript(() => {
      const shifts: number[] = ((window as unknown as { __shifts: number[] }).__shifts = [])
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) {
          if (!entry.hadRecentInput) shifts.push(entry.value)
        }
      }).observe({ type: 'layout-shift', buffered: true })
    })
    await open(p)
    // Every card's image has faded in; layout shifts are reported a frame later.
    await p.waitForTimeout(500)
    const shifts = await p.evaluate(() => (window as unknown as { __shifts: number[] }).__shifts)
    const states = await p.locator('pixstore-image').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.state))
    expect(states.every((state) => state === 'loaded')).toBe(true)
    expect(shifts.reduce((a, b) => a + b, 0)).toBe(0)
    await fresh.close()
  })

  it('sends proofs to its own origin in headers, never in the URL (which access logs keep)', () => {
    expect(imageRequestUrls.length).toBeGreaterThan(0)
    expect(imageRequestUrls.filter((url) => url.includes('proof='))).toEqual([])
    expect(imageRequestProofHeaders.every((proof) => typeof proof === 'string' && proof.length === 43)).toBe(true)
  })
})
