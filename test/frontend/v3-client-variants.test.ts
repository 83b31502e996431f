import 'fake-indexeddb/auto'
import sharp from 'sharp'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend } from 'pixstore/backend'
import { photo, tempDir } from '../helpers.js'

describe('a pixstore 3.x frontend given records with variants', () => {
  const data = tempDir()
  const backend = createPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, variants: { widths: [160, 320], formats: ['avif', 'webp'] } })
  afterAll(async () => {
    await backend.close()
    data.remove()
  })

  it('ignores the variants and shows the original, fetched through its own custom fetcher', async () => {
    // The 3.x frontend reads the browser's `window` (for its IndexedDB and WebCrypto).
    vi.stubGlobal('window', globalThis)
    const { initPixstoreFrontend, getImage } = await import('pixstore-v3/frontend/index.js')
    const bytes = await photo(640, 480)
    const record = await backend.saveImage(bytes, { id: 'v3-photo' })
    expect(record.variants).toHaveLength(4)
    // A 3.x app's fetcher: it knows nothing of variants.
    initPixstoreFrontend({ frontendDbName: 'v3-variants' }, async (r: { id: string; token: number; statelessProof: string }) =>
      backend.customEndpointHelper(r.id, r.token, r.statelessProof),
    )
    const blob = (await getImage(JSON.parse(JSON.stringify(record)))) as Blob
    const shown = Buffer.from(await blob.arrayBuffer())
    expect(shown.equals(bytes)).toBe(true)
    expect((await sharp(shown).metadata()).width).toBe(640)
    vi.unstubAllGlobals()
  })
})
