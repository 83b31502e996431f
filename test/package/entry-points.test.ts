import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import * as backend from 'pixstore/backend'
import * as frontend from 'pixstore/frontend'
import * as shared from 'pixstore/shared'

// The export lists are deliberate: anything added or removed here is an API change.
describe('entry points', () => {
  it('pixstore/backend exports exactly its public API', () => {
    expect(Object.keys(backend).sort()).toEqual(
      [
        'closePixstoreBackend',
        'createFilesystemBlobStore',
        'createNodeHandler',
        'createPixstoreBackend',
        'createPostgresMetadataStore',
        'createS3BlobStore',
        'createSqliteMetadataStore',
        'createWebHandler',
        'customEndpointHelper',
        'deleteImage',
        'getImageRecord',
        'getImageRecordAsync',
        'getImageRecords',
        'getImageRecordsAsync',
        'imageExists',
        'initPixstoreBackend',
        'pixstoreNodeHandler',
        'pixstoreRequestHandler',
        'saveImage',
        'saveImageFromFile',
        'updateImage',
        'updateImageFromFile',
      ].sort(),
    )
  })

  it('pixstore/frontend exports exactly its public API', () => {
    expect(Object.keys(frontend).sort()).toEqual(
      [
        'cachedImageExists',
        'clearImageCache',
        'deleteCachedImage',
        'getCacheStats',
        'getImage',
        'getImageURL',
        'createPixstoreFrontend',
        'heldImageURLCount',
        'initPixstoreFrontend',
      ].sort(),
    )
  })

  it('pixstore/shared exports exactly its public API', () => {
    expect(Object.keys(shared).sort()).toEqual(
      [
        'decodePayload',
        'encodePayload',
        'encodeUpdatedHeader',
        'getLastPixstoreError',
        'isPixstoreError',
        'IV_LENGTH',
        'KEY_LENGTH',
        'PayloadState',
        'PixstoreError',
        'setCustomErrorHandler',
        'TAG_LENGTH',
        'UPDATED_HEADER_LENGTH',
      ].sort(),
    )
  })

  it('resolves through the built package exports in plain Node, and bare "pixstore" is not an entry point', () => {
    const script = `
      const backend = await import('pixstore/backend')
      const frontend = await import('pixstore/frontend') // must touch no browser global on import
      const shared = await import('pixstore/shared')
      await import('pixstore/types')
      let bare = 'imported'
      try { await import('pixstore') } catch (e) { bare = e.code }
      // One PixstoreError class, in pixstore/shared: what either side throws is an instance of it.
      const thrownBy = (create) => { try { create({ unknownOption: 1 }) } catch (e) { return e instanceof shared.PixstoreError && e.code } }
      console.log(JSON.stringify({
        sameError: [thrownBy(backend.createPixstoreBackend), thrownBy(frontend.createPixstoreFrontend)],
        bare,
      }))
    `
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(JSON.parse(out)).toEqual({ sameError: ['INVALID_CONFIG', 'INVALID_CONFIG'], bare: 'ERR_PACKAGE_PATH_NOT_EXPORTED' })
  })
})
