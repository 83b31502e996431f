import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeHandler, createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
import { browserBuild } from '../../demo/browser-build.js'
import { samplePicture } from '../../demo/sample-images.js'
import { sleep, tempDir } from '../helpers.js'
import { browserTestsEnabled } from './chromium.js'
import { countingRoute, openRoutePage, routePageCode, type RouteCounts } from './route-page.js'

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Debian's nginx (`apt-get install nginx-light`); the test fails, saying so, without it. */
function findNginx(): string {
  const found = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((file) => fs.existsSync(file))
  if (!found) throw new Error('No nginx found for the file delivery test. Install it (Debian: apt-get install nginx-light).')
  return found
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })


describe.runIf(browserTestsEnabled())('file delivery behind nginx (X-Accel-Redirect) in Chromium', () => {
  const data = tempDir()
  const nginxDir = tempDir()
  let backend: PixstoreBackend
  let nginx: ChildProcess | undefined
  let app: http.Server
  let browser: Browser
  let page: Page
  const originals = new Map<string, string>()
  let records: ImageRecord[] = []
  const counts: RouteCounts = { route: {}, routeBodyBytes: 0 }

  beforeAll(async () => {
    const nginxBinary = findNginx()
    backend = createPixstoreBackend({
      dataDir: data.dir,
      inlineImageMaxBytes: 0,
      fileDelivery: { header: 'X-Accel-Redirect', prefix: '/pixstore-files/' },
    })
    for (let i = 0; i < 4; i++) {
      const image = samplePicture(i, 80 + i * 40)
      await backend.saveImage(image, { id: `f${i}` })
      originals.set(`f${i}`, sha256(image))
    }
    records = await Promise.all([...originals.keys()].map(async (id) => (await backend.getImageRecordAsync(id))!))

    const bundle = await build({ ...browserBuild, stdin: { contents: routePageCode, resolveDir: path.resolve('.'), loader: 'js' } })
    const script = bundle.outputFiles[0]!.text
    const route = countingRoute(createNodeHandler(backend), counts)
    app = http.createServer((req, res) => {
      if (req.url!.startsWith('/pixstore-image/')) return route(req, res)
      if (req.url === '/page.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script)
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><script type="module" src="/page.js"></script>')
    })
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
    const appPort = (app.address() as AddressInfo).port

    // nginx in front of the app, as docs/scaling.md configures it.
    const port = await freePort()
    const temp = (name: string) => `${name}_temp_path ${path.join(nginxDir.dir, name)};`
    fs.writeFileSync(
      path.join(nginxDir.dir, 'nginx.conf'),
      // Pixstore's files are readable by their owner only: nginx's workers run as the app's user.
      `daemon off;
user ${os.userInfo().username};
pid ${path.join(nginxDir.dir, 'nginx.pid')};
error_log ${path.join(nginxDir.dir, 'error.log')};
events {}
http {
  access_log off;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://127.0.0.1:${appPort}; }
    location /pixstore-files/ {
      internal;
      alias ${path.join(data.dir, 'images')}/;
    }
  }
}
`,
    )
    nginx = spawn(nginxBinary, ['-c', path.join(nginxDir.dir, 'nginx.conf'), '-p', nginxDir.dir], { stdio: ['ignore', 'ignore', 'inherit'] })
    const origin = `http://127.0.0.1:${port}`
    for (let attempt = 0; ; attempt++) {
      const up = await fetch(origin).then(
        (response) => response.ok,
        () => false,
      )
      if (up) break
      if (attempt === 100 || nginx.exitCode !== null) throw new Error(`nginx did not start: ${fs.readFileSync(path.join(nginxDir.dir, 'error.log'), 'utf8')}`)
      await sleep(50)
    }
    ;({ browser, page } = await openRoutePage(origin))
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    nginx?.kill('SIGTERM')
    app?.closeAllConnections()
    await new Promise((resolve) => app?.close(resolve))
    await backend?.close()
    data.remove()
    nginxDir.remove()
  })

  const reset = () => {
    counts.route = {}
    counts.routeBodyBytes = 0
  }

  it('shows every image from the file nginx sends: one request each, and Node writes no image byte', async () => {
    reset()
    const hashes = await page.evaluate(
      ([list]) => (window as unknown as { loadAll(o: string, r: ImageRecord[], n: string): Promise<string[]> }).loadAll('', list, 'files'),
      [records] as const,
    )
    expect(hashes).toEqual(records.map((record) => originals.get(record.id)))
    expect(counts).toEqual({ route: { 200: 4 }, routeBodyBytes: 0 })
  })

  it('a variant comes from its file too', async () => {
    const record = await backend.saveImage(samplePicture(7, 120), { id: 'with-variants', variants: { widths: [32], formats: ['webp'] } })
    reset()
    const shown = await page.evaluate(
      ([r]) => (window as unknown as { loadWidth(o: string, r: ImageRecord, w: number, n: string): Promise<unknown> }).loadWidth('', r, 30, 'variant'),
      [record] as const,
    )
    expect(shown).toEqual({ type: 'image/webp', width: 32 })
    expect(counts).toEqual({ route: { 200: 1 }, routeBodyBytes: 0 })
  })

  it('a record of an older version gets the new image from the route itself (Updated)', async () => {
    const stale = records[0]!
    const replacement = samplePicture(40, 90)
    await backend.updateImage(stale.id, replacement)
    reset()
    const hashes = await page.evaluate(
      ([list]) => (window as unknown as { loadAll(o: string, r: ImageRecord[], n: string): Promise<string[]> }).loadAll('', list, 'stale'),
      [[stale] as ImageRecord[]] as const,
    )
    expect(hashes).toEqual([sha256(replacement)])
    expect(counts.route).toEqual({ 200: 1 })
    expect(counts.routeBodyBytes).toBeGreaterThan(replacement.length)
  })
})
