import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inspectImage } from '../../src/backend/images/inspect.js'
import { jpegWithMetadata, pngWithMetadata, webpWithMetadata } from '../metadata-images.js'
import { browserTestsEnabled, launchChromium } from './chromium.js'

describe.runIf(browserTestsEnabled())('images stripped of metadata, decoded in Chromium', () => {
  let browser: Browser
  let page: Page
  beforeAll(async () => {
    browser = await launchChromium()
    page = await browser.newPage()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
  })

  /** The decoded pixels (as drawn, orientation applied) and their size. */
  const decode = (bytes: Uint8Array, type: string) =>
    page.evaluate(
      async ({ data, type }) => {
        const bitmap = await createImageBitmap(new Blob([new Uint8Array(data)], { type }))
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height)
        const context = canvas.getContext('2d')!
        context.drawImage(bitmap, 0, 0)
        const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data
        return { width: bitmap.width, height: bitmap.height, pixels: Array.from(pixels) }
      },
      { data: Array.from(bytes), type },
    )

  it.each([
    ['JPEG', 'image/jpeg', jpegWithMetadata],
    ['PNG', 'image/png', pngWithMetadata],
    ['WebP', 'image/webp', webpWithMetadata],
  ] as const)('a %s with GPS data decodes to the same pixels, the same way up, once its metadata is removed', async (_name, type, make) => {
    for (const orientation of [1, 6]) {
      const original = make(orientation)
      const stripped = inspectImage(original, false).stripped
      expect(stripped.length).toBeLessThan(original.length)
      const before = await decode(original, type)
      const after = await decode(stripped, type)
      expect(after.width).toBe(before.width)
      expect(after.height).toBe(before.height)
      expect(Buffer.from(after.pixels).equals(Buffer.from(before.pixels))).toBe(true)
    }
    // Orientation 6 turns the 96 × 64 picture a quarter, and the stripped image keeps it.
    // (Chromium applies EXIF orientation to JPEG and PNG; for WebP it ignores it, before and after alike.)
    const turned = await decode(inspectImage(make(6), false).stripped, type)
    expect([turned.width, turned.height]).toEqual(type === 'image/webp' ? [96, 64] : [64, 96])
  })
})
