import { execFileSync } from 'node:child_process'
import { createDecipheriv, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  closePixstoreBackend,
  createPixstoreBackend,
  createWebHandler,
  getImageRecord,
  initPixstoreBackend,
  saveImage,
  updateImage,
  type PixstoreBackend,
} from 'pixstore/backend'
import {
  PayloadState,
  decodePayload,
  type PixstoreErrorCode,
} from 'pixstore/shared'
import type { ImageMeta } from 'pixstore/types'
import { fixture, fixturePath, listFiles, tempDir } from '../helpers.js'

const png = fixture('sample.png')
const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')

const badImages: [string, Uint8Array, RegExp?][] = [
  ['an empty buffer', new Uint8Array(0)],
  ['1000 random bytes', randomBytes(1000)],
  ['an SVG with a script', svg, /SVG/],
  ['a PNG cut to its first 20 bytes', png.subarray(0, 20)],
  ['a PNG cut in half', png.subarray(0, png.length >> 1)],
]

const badIds: [string, PixstoreErrorCode][] = [
  ['../etc/passwd', 'INVALID_ID'],
  ['..', 'INVALID_ID'],
  ['a/b', 'INVALID_ID'],
  ['a\\b', 'INVALID_ID'],
  ['a\u0000b', 'INVALID_ID'],
  ['/abs', 'INVALID_ID'],
  ['C:\\x', 'INVALID_ID'],
  ['%2e%2e', 'INVALID_ID'],
  ['x'.repeat(201), 'INVALID_ID'],
  ['', 'MISSING_ID'],
]

/** The error a synchronous call throws, or `undefined`. */
function thrownBy(action: () => unknown): unknown {
  try {
    action()
  } catch (error) {
    return error
  }
  return undefined
}

function decrypt(ciphertext: Uint8Array, meta: ImageMeta): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(meta.key, 'base64'), Buffer.from(meta.iv, 'base64'))
  decipher.setAuthTag(Buffer.from(meta.tag, 'base64'))
  return Buffer.concat([decipher.update(ciphertext), decipher.final()])
}

describe('bad input to the backend', () => {
  let parent: ReturnType<typeof tempDir>
  let dataDir: string
  let backend: PixstoreBackend
  const images = () => listFiles(path.join(dataDir, 'images'))

  const expectNothingStored = async (id: string) => {
    expect(images()).toEqual([])
    expect(await backend.imageExists(id)).toBe(false)
    expect(backend.getImageRecord(id)).toBeNull()
    expect(fs.readdirSync(parent.dir)).toEqual(['data'])
  }

  beforeEach(() => {
    parent = tempDir()
    dataDir = path.join(parent.dir, 'data')
    backend = createPixstoreBackend({ dataDir, imageMaxBytes: 1000 * 1000 })
  })
  afterEach(async () => {
    await backend.close()
    await closePixstoreBackend()
    parent.remove()
  })

  it.each(badImages)('refuses %s with INVALID_IMAGE and stores nothing', async (_name, bytes, message) => {
    const error = await backend.saveImage(bytes, { id: 'avatar' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'PixstoreError', code: 'INVALID_IMAGE' })
    if (message) expect((error as Error).message).toMatch(message)
    await expectNothingStored('avatar')
  })

  it('refuses an image over imageMaxBytes with TOO_LARGE, from bytes and from a file', async () => {
    await backend.close()
    backend = createPixstoreBackend({ dataDir, imageMaxBytes: 1000 })
    expect(png.length).toBe(2101)
    await expect(backend.saveImage(png, { id: 'avatar' })).rejects.toMatchObject({ code: 'TOO_LARGE' })
    await expect(backend.saveImageFromFile(fixturePath('sample.png'), { id: 'avatar' })).rejects.toMatchObject({ code: 'TOO_LARGE' })
    await expectNothingStored('avatar')
  })

  it('reads only regular files, never more than the limit: a FIFO, /dev/zero and a file that lies about its size', async () => {
    await backend.close()
    backend = createPixstoreBackend({ dataDir, imageMaxBytes: 1024 })
    const fifo = path.join(parent.dir, 'pipe.png')
    execFileSync('mkfifo', [fifo])
    const started = Date.now()
    // No writer ever opens the FIFO: an open that waited for one would hang here.
    await expect(backend.saveImageFromFile(fifo, { id: 'fifo' })).rejects.toMatchObject({ code: 'INVALID_IMAGE', message: expect.stringContaining('not a regular file') })
    await expect(backend.saveImageFromFile('/dev/zero', { id: 'zero' })).rejects.toMatchObject({ code: 'INVALID_IMAGE' })
    expect(Date.now() - started).toBeLessThan(5000)
    // A file that grows after it was measured: at most limit + 1 bytes are read.
    const growing = path.join(parent.dir, 'growing.png')
    fs.writeFileSync(growing, png.subarray(0, 100))
    const probe = await fs.promises.open(growing)
    const handlePrototype = Object.getPrototypeOf(probe) as fs.promises.FileHandle
    await probe.close()
    const read = handlePrototype.read
    let bytesRead = 0
    const spy = vi.spyOn(handlePrototype, 'read').mockImplementation(async function (this: fs.promises.FileHandle, ...args: unknown[]) {
      if (bytesRead === 0) fs.appendFileSync(growing, Buffer.alloc(8 * 1024 * 1024))
      const result = await (read as (...a: unknown[]) => Promise<{ bytesRead: number }>).apply(this, args)
      bytesRead += result.bytesRead
      return result
    } as typeof read)
    await expect(backend.saveImageFromFile(growing, { id: 'growing' })).rejects.toMatchObject({ code: 'TOO_LARGE' })
    spy.mockRestore()
    expect(bytesRead).toBeLessThanOrEqual(1025)
    for (const file of [fifo, growing]) fs.rmSync(file)
    await expectNothingStored('fifo')
  })

  it.each(badIds)('refuses the id %j with %s in every call, touching no file', async (id, code) => {
    await expect(backend.saveImage(png, { id })).rejects.toMatchObject({ code })
    await expect(backend.saveImageFromFile(fixturePath('sample.png'), { id })).rejects.toMatchObject({ code })
    await expect(backend.updateImage(id, png)).rejects.toMatchObject({ code })
    await expect(backend.deleteImage(id)).rejects.toMatchObject({ code })
    await expect(backend.imageExists(id)).rejects.toMatchObject({ code })
    await expect(backend.getImageRecordAsync(id)).rejects.toMatchObject({ code })
    expect(thrownBy(() => backend.getImageRecord(id))).toMatchObject({ code })
    expect(images()).toEqual([])
    expect(fs.readdirSync(parent.dir)).toEqual(['data'])
    // Only the store's own files: the database and the proof secret.
    expect(listFiles(dataDir).filter((file) => !/^(pixstore\.sqlite(-wal|-shm)?|proof-secret|master-keys)$/.test(file))).toEqual([])
  })

  it('an instance throws every error and returns null only for a missing record', async () => {
    await expect(backend.saveImage(svg, { id: 'avatar' })).rejects.toMatchObject({ code: 'INVALID_IMAGE' })
    await expect(backend.saveImage(png, { id: '../etc/passwd' })).rejects.toMatchObject({ code: 'INVALID_ID' })
    await expect(backend.saveImage(png, { ids: 'x' } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(backend.saveImage('not bytes' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(thrownBy(() => backend.getImageRecord('a/b'))).toMatchObject({ code: 'INVALID_ID' })
    expect(thrownBy(() => backend.getImageRecord('avatar', { issuedAt: Date.now() + 60_000 }))).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(backend.getImageRecord('avatar')).toBeNull()
    expect(await backend.getImageRecordAsync('avatar')).toBeNull()
    await expectNothingStored('avatar')
  })

  it('the module functions return null for expected errors and give each call its own error through onError', async () => {
    await backend.close()
    const seen: string[] = []
    initPixstoreBackend({ dataDir, defaultEndpointEnabled: false, onError: (error) => seen.push(error.code) })
    // Concurrent calls: each failure reaches onError as its own error, none overwrites another.
    const results = await Promise.all([saveImage(svg, { id: 'a' }), saveImage(png, { id: '../x' }), updateImage('missing', png), saveImage(png, { id: 'ok' })])
    expect(results.slice(0, 3)).toEqual([null, null, null])
    expect(results[3]?.id).toBe('ok')
    expect(seen.sort()).toEqual(['INVALID_ID', 'INVALID_IMAGE', 'NOT_FOUND'])
    expect(getImageRecord('nothing-here')).toBeNull()
    // Unexpected errors still throw in the default mode, and configuration errors always do.
    expect(() => getImageRecord('ok', { issuedAt: Date.now() + 60_000 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    await closePixstoreBackend()
    initPixstoreBackend({ dataDir, defaultEndpointEnabled: false, errorHandlingMode: 'silent' })
    expect(getImageRecord('ok', { issuedAt: Date.now() + 60_000 })).toBeNull()
    await closePixstoreBackend()
    expect(() => initPixstoreBackend({ dataDir, errorHandlingMode: 'silent', imageMaxBytes: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
    backend = createPixstoreBackend({ dataDir })
  })

  it('keeps the previous image intact when an update brings bad bytes', async () => {
    const record = (await backend.saveImage(png, { id: 'avatar' }))!
    const filesBefore = images()
    for (const [, bytes] of badImages) {
      await expect(backend.updateImage('avatar', bytes)).rejects.toMatchObject({ code: 'INVALID_IMAGE' })
    }
    const stored = backend.getImageRecord('avatar')!
    expect(stored.token).toBe(record.token)
    expect(stored.meta).toEqual(record.meta)
    expect(images()).toEqual(filesBefore)

    const url = `http://localhost/pixstore-image/avatar?proof=${encodeURIComponent(stored.statelessProof)}`
    const response = await createWebHandler(backend)(new Request(url))
    const payload = decodePayload(new Uint8Array(await response.arrayBuffer()))
    expect(payload.state).toBe(PayloadState.Updated)
    if (payload.state !== PayloadState.Updated) return
    expect(payload.token).toBe(record.token)
    const plaintext = decrypt(payload.ciphertext, record.meta)
    expect(plaintext[0]).toBe(1) // png
    expect(plaintext.subarray(1).equals(png)).toBe(true)
  })

  it.each([
    ['sample.png', 'png', 1],
    ['sample.jpg', 'jpeg', 3],
    ['sample.webp', 'webp', 2],
    ['sample-lossless.webp', 'webp', 2],
    ['sample.gif', 'gif', 5],
    ['sample.avif', 'avif', 6],
  ])('recognises %s as %s and reads its size', async (file, format, formatByte) => {
    const bytes = fixture(file)
    const record = (await backend.saveImage(bytes, { id: 'avatar' }))!
    expect(record).toMatchObject({ id: 'avatar', format, width: 96, height: 64, bytes: bytes.length })
    const payload = decodePayload(await backend.customEndpointHelper('avatar', record.token, record.statelessProof))
    expect(payload.state).toBe(PayloadState.Success)
    if (payload.state !== PayloadState.Success) return
    const plaintext = decrypt(payload.ciphertext, record.meta)
    expect(plaintext[0]).toBe(formatByte)
    expect(plaintext.subarray(1).equals(bytes)).toBe(true)
  })
})
