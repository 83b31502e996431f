import 'fake-indexeddb/auto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { getImage, initPixstoreFrontend } from 'pixstore/frontend'
import { errorLog, fixture, sha256, tempDir, uniqueDbName } from '../helpers.js'

// getImage through a custom fetcher that hands it a chosen payload: every truncation of a
// real payload must end in a clean PixstoreError, never a wrong image or a crash.
describe('getImage on damaged payloads', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  beforeEach(() => {
    backend = createPixstoreBackend({ dataDir: data.dir })
  })
  afterEach(async () => {
    await backend.close()
    data.remove()
  })

  it('gives a PixstoreError for every truncation of Success and Updated payloads', async () => {
    const record = (await backend.saveImage(fixture('sample.webp')))!
    const success = await backend.customEndpointHelper(record.id, record.token, record.statelessProof)
    const updated = await backend.customEndpointHelper(record.id, undefined, record.statelessProof)
    expect([success[0], updated[0]]).toEqual([0, 1])
    let payload: Uint8Array = new Uint8Array()
    initPixstoreFrontend({ indexedDbName: uniqueDbName() }, async () => payload)
    for (const full of [success, updated]) {
      payload = full
      expect(await sha256((await getImage(record))!)).toBe(await sha256(fixture('sample.webp')))
      for (let length = 0; length < full.length; length++) {
        // A fresh database each time, so the cached copy does not answer instead.
        const errors = errorLog()
        initPixstoreFrontend({ indexedDbName: uniqueDbName(), onError: errors.onError }, async () => payload)
        payload = full.subarray(0, length)
        expect(await getImage(record)).toBeNull()
        expect(['INVALID_PAYLOAD', 'DECRYPT_FAILED']).toContain(errors.last()?.code)
      }
    }
  })
})
