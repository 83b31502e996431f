import 'fake-indexeddb/auto'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  closePixstoreBackend,
  getImageRecord,
  initPixstoreBackend,
  pixstoreNodeHandler,
  saveImage,
  updateImage,
} from 'pixstore/backend'
import { cachedImageExists, getImage, initPixstoreFrontend } from 'pixstore/frontend'
import type { ImageRecord } from 'pixstore/types'
import { fixture, sha256, tempDir, uniqueDbName } from '../helpers.js'

// The two snippets of the README, run as written: an Express app with the seed's route and
// the Pixstore handler on the same server, and getImage in Node on fake-indexeddb.
describe('the two-snippet integration on the embedded default', () => {
  const data = tempDir()
  const players: Record<string, { name: string; file: string }> = {
    '42': { name: 'Ada', file: 'sample.png' },
    '43': { name: 'Grace', file: 'sample.jpg' },
    '44': { name: 'Edsger', file: 'sample.webp' },
  }
  const latecomer = { id: '45', file: 'sample.png' }
  let server: Server
  let origin: string
  let imageRequests = 0
  // Node has no page origin, so relative paths are resolved against the app's server.
  const fetch = (path: string) => globalThis.fetch(new URL(path, origin))

  beforeAll(async () => {
    initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false })
    for (const [id, player] of Object.entries(players)) {
      expect(await saveImage(fixture(player.file), { id })).toMatchObject({ id })
    }
    await saveImage(fixture(latecomer.file), { id: latecomer.id })
    const app = express()
    app.use((req, _res, next) => {
      if (req.path.startsWith('/pixstore-image/')) imageRequests++
      next()
    })
    app.use(pixstoreNodeHandler)
    app.get('/api/player/:id', async (req, res) => {
      const player = players[req.params.id]
      const imageRecord = getImageRecord(req.params.id) // no await: synchronous on the embedded default
      res.json({ ...player, imageRecord })
    })
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    initPixstoreFrontend({ defaultEndpointConnectHost: origin, indexedDbName: uniqueDbName() })
  })

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await closePixstoreBackend()
    data.remove()
  })

  it.each(Object.entries(players))('shows player %s image byte for byte (%o)', async (id, player) => {
    const { imageRecord } = await (await fetch(`/api/player/${id}`)).json()
    const blob = await getImage(imageRecord)
    const img = { src: '' }
    if (blob) img.src = URL.createObjectURL(blob)
    expect(img.src).toMatch(/^blob:/)
    URL.revokeObjectURL(img.src)
    expect(await sha256(blob!)).toBe(await sha256(fixture(player.file)))
    expect(blob!.type).toBe({ 'sample.png': 'image/png', 'sample.jpg': 'image/jpeg', 'sample.webp': 'image/webp' }[player.file])
  })

  it('returns the cached image without a request when the token matches', async () => {
    const { imageRecord } = await (await fetch('/api/player/42')).json()
    const before = imageRequests
    const blob = await getImage(imageRecord)
    expect(imageRequests).toBe(before)
    expect(await sha256(blob!)).toBe(await sha256(fixture('sample.png')))
  })

  it('serves the new image to a stale record after an update, and caches the new token', async () => {
    const { imageRecord: stale } = (await (await fetch('/api/player/45')).json()) as { imageRecord: ImageRecord }
    const updated = await updateImage('45', fixture('sample.gif'))
    expect(updated!.token).toBeGreaterThan(stale.token)

    const before = imageRequests
    const blob = await getImage(stale)
    expect(imageRequests).toBe(before + 1)
    expect(blob!.type).toBe('image/gif')
    expect(await sha256(blob!)).toBe(await sha256(fixture('sample.gif')))

    // The cache now holds the new token: a fresh record is served without a request.
    const { imageRecord: fresh } = await (await fetch('/api/player/45')).json()
    expect(fresh.token).toBe(updated!.token)
    const again = await getImage(fresh)
    expect(imageRequests).toBe(before + 1)
    expect(await sha256(again!)).toBe(await sha256(fixture('sample.gif')))
    expect(await cachedImageExists('45')).toBe(true)
  })

  it('shows the updated image to a record from before the update once the cache holds the new version', async () => {
    const { imageRecord: stale } = (await (await fetch('/api/player/44')).json()) as { imageRecord: ImageRecord }
    await updateImage('44', fixture('sample.jpg'))
    const { imageRecord: fresh } = await (await fetch('/api/player/44')).json()
    expect(await sha256((await getImage(fresh))!)).toBe(await sha256(fixture('sample.jpg')))
    const before = imageRequests
    expect(await sha256((await getImage(stale))!)).toBe(await sha256(fixture('sample.jpg')))
    expect(imageRequests).toBe(before + 1)
  })
})

describe('the default endpoint on its own port', () => {
  const data = tempDir()
  afterAll(async () => {
    await closePixstoreBackend()
    data.remove()
  })

  it('serves getImage across origins after one initPixstoreFrontend call', async () => {
    const { endpoint } = initPixstoreBackend({ dataDir: data.dir, defaultEndpointListenPort: 0 })
    const address = await endpoint
    const record = await saveImage(fixture('sample.jpg'), 'players')
    expect(record!.id).toMatch(/^players:[A-Za-z0-9_-]{22}$/)

    const preflight = await globalThis.fetch(`http://127.0.0.1:${address!.port}/pixstore-image/x`, { method: 'OPTIONS' })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-pixstore-proof')

    initPixstoreFrontend({ defaultEndpointConnectHost: 'http://127.0.0.1', defaultEndpointConnectPort: address!.port, indexedDbName: uniqueDbName() })
    const blob = await getImage(record!)
    expect(await sha256(blob!)).toBe(await sha256(fixture('sample.jpg')))
  })
})
