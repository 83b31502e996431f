import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend, type PixstoreEvent } from 'pixstore/backend'
import { decodePayload } from 'pixstore/shared'
import { fixture, tempDir } from '../helpers.js'

describe('onEvent: what an instance did, for metrics', () => {
  let data: ReturnType<typeof tempDir>
  let backend: PixstoreBackend
  let events: PixstoreEvent[]
  beforeEach(() => {
    data = tempDir()
    events = []
    backend = createPixstoreBackend({ dataDir: data.dir, onEvent: (event) => events.push(event) })
  })
  afterEach(async () => {
    await backend.close()
    data.remove()
  })
  const png = fixture('sample.png')

  it('reports each save, update and delete with its outcome, the id, the bytes stored and the time taken', async () => {
    const saved = await backend.saveImage(png, 'avatars')
    await backend.updateImage(saved.id, fixture('sample.webp'))
    await expect(backend.updateImage('nobody', png)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(backend.saveImage(Buffer.from('not an image'), { id: 'bad' })).rejects.toMatchObject({ code: 'INVALID_IMAGE' })
    await backend.deleteImage(saved.id)
    expect(events.map(({ durationMs, ...rest }) => ({ ...rest, timed: durationMs >= 0 }))).toEqual([
      { type: 'save', id: saved.id, ok: true, bytes: saved.bytes, timed: true },
      { type: 'update', id: saved.id, ok: true, bytes: fixture('sample.webp').length, timed: true },
      { type: 'update', id: 'nobody', ok: false, code: 'NOT_FOUND', timed: true },
      { type: 'save', id: 'bad', ok: false, code: 'INVALID_IMAGE', timed: true },
      { type: 'delete', id: saved.id, ok: true, timed: true },
    ])
  })

  it('reports each answer of the image route: its state, its payload bytes and where its time went', async () => {
    const record = await backend.saveImage(png, { id: 'pic' })
    events.length = 0
    const updated = await backend.customEndpointHelper('pic', undefined, record.statelessProof)
    const current = await backend.customEndpointHelper('pic', record.token, record.statelessProof)
    await backend.customEndpointHelper('pic', undefined, 'forged')
    await backend.customEndpointHelper('gone', undefined, backend.getImageRecord('pic')!.statelessProof)
    expect(decodePayload(updated).state).toBe(1)
    expect(events.map((event) => [event.type, event.type === 'serve' && event.state, event.type === 'serve' && event.bytes])).toEqual([
      ['serve', 'updated', updated.length],
      ['serve', 'current', current.length],
      ['serve', 'invalid-proof', 1],
      ['serve', 'invalid-proof', 1], // a proof for another id
    ])
    const first = events[0] as Extract<PixstoreEvent, { type: 'serve' }>
    expect(first.id).toBe('pic')
    expect(first.metadataMs).toBeGreaterThanOrEqual(0)
    expect(first.blobMs).toBeGreaterThanOrEqual(0)
    expect(first.durationMs).toBeGreaterThanOrEqual(first.metadataMs + first.blobMs)
  })

  it('keeps working when the hook throws, and says so once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const throwing = createPixstoreBackend({
      dataDir: data.dir,
      onEvent: () => {
        throw new Error('metrics down')
      },
    })
    try {
      const record = await throwing.saveImage(png, { id: 'still-saved' })
      const payload = await throwing.customEndpointHelper('still-saved', undefined, record.statelessProof)
      expect(decodePayload(payload).state).toBe(1)
      await throwing.deleteImage('still-saved')
      expect(warn.mock.calls.filter(([line]) => String(line).includes('metrics down'))).toHaveLength(1)
    } finally {
      warn.mockRestore()
      await throwing.close()
    }
  })

  it('keeps working when an async hook rejects, and no rejection goes unhandled', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    const rejecting = createPixstoreBackend({
      dataDir: data.dir,
      onEvent: async () => {
        throw new Error('push gateway down')
      },
    })
    try {
      await rejecting.saveImage(png, { id: 'async-hook' })
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(unhandled).toEqual([])
      expect(await rejecting.imageExists('async-hook')).toBe(true)
    } finally {
      process.off('unhandledRejection', onUnhandled)
      warn.mockRestore()
      await rejecting.close()
    }
  })

  it('refuses a hook that is not a function', () => {
    expect(() => createPixstoreBackend({ dataDir: data.dir, onEvent: 'log' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
  })
})
