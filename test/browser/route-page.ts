import type http from 'node:http'
import type { Browser, Page } from 'playwright-core'
import type { createNodeHandler } from 'pixstore/backend'
import { launchChromium } from './chromium.js'

/**
 * The code of a test page: `loadAll` loads records through the route at `routeOrigin` (''
 * for the page's own) and returns the SHA-256 of each image shown; `loadWidth` loads one at
 * a width and returns its type and pixel width.
 */
export const routePageCode = `
import { createPixstoreFrontend } from 'pixstore/frontend'
window.loadAll = async (routeOrigin, records, dbName) => {
  const frontend = createPixstoreFrontend({ defaultEndpointConnectHost: routeOrigin, indexedDbName: dbName })
  const hashes = []
  for (const record of records) {
    const blob = await frontend.getImage(record)
    const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
    hashes.push([...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''))
  }
  await frontend.close()
  return hashes
}
window.loadWidth = async (routeOrigin, record, width, dbName) => {
  const frontend = createPixstoreFrontend({ defaultEndpointConnectHost: routeOrigin, indexedDbName: dbName })
  const blob = await frontend.getImage(record, undefined, { width })
  const bitmap = await createImageBitmap(blob)
  await frontend.close()
  return { type: blob.type, width: bitmap.width }
}
`

/** Chromium on the test page served at `origin`, once its code has loaded. */
export async function openRoutePage(origin: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchChromium()
  const page = await browser.newPage()
  await page.goto(origin)
  await page.waitForFunction(() => 'loadAll' in window)
  return { browser, page }
}

/** What an image route answered: answers by status, and the body bytes Node wrote for them. */
export interface RouteCounts {
  route: Record<number, number>
  routeBodyBytes: number
}

/** The image route `handler`, counting its answers into `counts`. */
export const countingRoute =
  (handler: ReturnType<typeof createNodeHandler>, counts: RouteCounts) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    const write = res.write.bind(res)
    const count = (chunk: unknown) => {
      if (chunk && typeof chunk !== 'function') counts.routeBodyBytes += Buffer.byteLength(chunk as Buffer)
    }
    res.write = ((chunk: unknown, ...rest: unknown[]) => (count(chunk), write(chunk as Buffer, ...(rest as [])))) as typeof res.write
    const end = res.end.bind(res)
    res.end = ((chunk?: unknown, ...rest: unknown[]) => (count(chunk), end(chunk as Buffer, ...(rest as [])))) as typeof res.end
    res.on('finish', () => (counts.route[res.statusCode] = (counts.route[res.statusCode] ?? 0) + 1))
    void handler(req, res)
  }
