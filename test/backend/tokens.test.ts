import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { fixture, listFiles, tempDir } from '../helpers.js'

const png = fixture('sample.png')
const jpg = fixture('sample.jpg')

describe('version tokens', () => {
  let data: ReturnType<typeof tempDir>
  const open: PixstoreBackend[] = []
  const start = () => {
    // Images as files, so that the test can count them.
    const backend = createPixstoreBackend({ dataDir: data.dir, inlineImageMaxBytes: 0 })
    open.push(backend)
    return backend
  }

  beforeEach(() => {
    data = tempDir()
  })
  afterEach(async () => {
    for (const backend of open.splice(0)) await backend.close()
    data.remove()
  })

  it('grow strictly over 1000 back-to-back updates of one image', async () => {
    const backend = start()
    const first = (await backend.saveImage(png, { id: 'avatar' }))!
    let previous = first.token
    for (let i = 0; i < 1000; i++) {
      const record = (await backend.updateImage('avatar', i % 2 ? png : jpg))!
      expect(record.token).toBeGreaterThan(previous)
      previous = record.token
    }
    expect(backend.getImageRecord('avatar')!.token).toBe(previous)
  }, 120_000)

  it('are all distinct under 50 concurrent updates, the stored one being the greatest', async () => {
    const backend = start()
    const first = (await backend.saveImage(png, { id: 'avatar' }))!
    const records = await Promise.all(Array.from({ length: 50 }, (_, i) => backend.updateImage('avatar', i % 2 ? png : jpg)))
    const tokens = records.map((record) => record!.token)
    expect(new Set(tokens).size).toBe(50)
    expect(Math.min(...tokens)).toBeGreaterThan(first.token)
    const stored = backend.getImageRecord('avatar')!
    expect(stored.token).toBe(Math.max(...tokens))
    // The winning record is the one whose meta is stored.
    expect(records.find((record) => record!.token === stored.token)!.meta).toEqual(stored.meta)
    // Every replaced version's file goes: one encrypted file remains.
    await vi.waitFor(() => expect(listFiles(path.join(data.dir, 'images'))).toHaveLength(1))
  })

  it('give a re-created image a greater token than every version before its deletion', async () => {
    const backend = start()
    const tokens = [(await backend.saveImage(png, { id: 'avatar' }))!.token]
    for (let i = 0; i < 5; i++) tokens.push((await backend.updateImage('avatar', jpg))!.token)
    expect(await backend.deleteImage('avatar')).toBe(true)
    expect(await backend.imageExists('avatar')).toBe(false)
    const recreated = (await backend.saveImage(png, { id: 'avatar' }))!
    expect(recreated.token).toBeGreaterThan(Math.max(...tokens))
  })

  it('keep growing across tokens of other ids', async () => {
    const backend = start()
    const a = (await backend.saveImage(png, { id: 'a' }))!
    const b = (await backend.saveImage(png, { id: 'b' }))!
    const a2 = (await backend.updateImage('a', jpg))!
    expect(b.token).toBeGreaterThan(a.token)
    expect(a2.token).toBeGreaterThan(b.token)
  })

  it('keep growing after a restart on the same data folder', async () => {
    const first = start()
    await first.saveImage(png, { id: 'avatar' })
    const before = (await first.updateImage('avatar', jpg))!
    await first.close()

    const second = start()
    expect(second.getImageRecord('avatar')!.token).toBe(before.token)
    const after = (await second.updateImage('avatar', png))!
    expect(after.token).toBeGreaterThan(before.token)
    const other = (await second.saveImage(png, { id: 'other' }))!
    expect(other.token).toBeGreaterThan(after.token)
  })

  it('reports ALREADY_EXISTS when saving under a taken id, keeping the image', async () => {
    const backend = start()
    const record = (await backend.saveImage(png, { id: 'avatar' }))!
    await expect(backend.saveImage(jpg, { id: 'avatar' })).rejects.toMatchObject({ name: 'PixstoreError', code: 'ALREADY_EXISTS' })
    const stored = backend.getImageRecord('avatar')!
    expect(stored.token).toBe(record.token)
    expect(stored.format).toBe('png')
    expect(listFiles(path.join(data.dir, 'images'))).toHaveLength(1)
  })

  it('reports NOT_FOUND when updating an id that does not exist, creating nothing', async () => {
    const backend = start()
    await expect(backend.updateImage('ghost', png)).rejects.toMatchObject({ name: 'PixstoreError', code: 'NOT_FOUND' })
    expect(await backend.imageExists('ghost')).toBe(false)
    expect(listFiles(path.join(data.dir, 'images'))).toEqual([])
  })
})
