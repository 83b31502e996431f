import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { closePixstoreBackend, createPixstoreBackend, initPixstoreBackend, saveImage, type PixstoreBackendConfig } from 'pixstore/backend'
import { createPixstoreFrontend, getImage, initPixstoreFrontend } from 'pixstore/frontend'
import type { PixstoreError } from 'pixstore/shared'
import { tempDir } from '../helpers.js'

const data = tempDir()
afterAll(() => data.remove())
afterEach(async () => {
  await closePixstoreBackend()
  initPixstoreFrontend()
})

const configError = (config: unknown) => {
  try {
    createPixstoreBackend({ dataDir: data.dir, ...(config as PixstoreBackendConfig) }).close()
  } catch (error) {
    return error as PixstoreError
  }
  throw new Error('expected INVALID_CONFIG')
}

describe('configuration', () => {
  it('names the closest valid option for a misspelled one', () => {
    expect(configError({ statelessKeyWindowLenght: 5 })).toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('"statelessKeyWindowLength"'),
    })
    expect(() => initPixstoreFrontend({ frontendImageCacheLimt: 3 } as never)).toThrow(/Did you mean "frontendImageCacheLimit"/)
  })

  it.each([
    [{ imageMaxBytes: 0 }, 'imageMaxBytes'],
    [{ statelessKeyWindowLength: 0 }, 'statelessKeyWindowLength'],
    [{ statelessProofSecret: 'short' }, 'statelessProofSecret'],
    [{ defaultEndpointListenPort: 70000 }, 'defaultEndpointListenPort'],
    [{ defaultEndpointRoute: 'no-slash' }, 'defaultEndpointRoute'],
    [{ errorHandlingMode: 'loud' }, 'errorHandlingMode'],
    [{ accessControlAllowOrigin: 'a\r\nSet-Cookie: x' }, 'accessControlAllowOrigin'],
  ])('refuses %o with INVALID_CONFIG naming the option', (config, option) => {
    expect(configError(config)).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(`"${option}"`) })
  })

  it('refuses invalid frontend options', () => {
    expect(() => initPixstoreFrontend({ defaultEndpointConnectHost: 'api.example.com/path' })).toThrow(/defaultEndpointConnectHost/)
    expect(() => initPixstoreFrontend({ frontendImageCacheMaxBytes: -1 })).toThrow(/frontendImageCacheMaxBytes/)
  })

  it('refuses a second initPixstoreBackend until the first is closed', async () => {
    initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false })
    expect(() => initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false })).toThrow(
      expect.objectContaining({ code: 'ALREADY_INITIALIZED' }),
    )
    await closePixstoreBackend()
    initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false })
  })

  it('reports NOT_INITIALIZED when used before initPixstoreBackend', async () => {
    await expect(saveImage(new Uint8Array(1))).rejects.toMatchObject({ code: 'NOT_INITIALIZED' })
  })

  it('logs and rejects, without crashing, when the endpoint port is taken', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const other = createPixstoreBackend({ dataDir: data.dir })
    const first = initPixstoreBackend({ dataDir: data.dir, defaultEndpointListenPort: 0 })
    const { port } = (await first.endpoint)!
    await closePixstoreBackend()
    const { createServer } = await import('node:http')
    const blocker = createServer().listen(port, '127.0.0.1')
    await new Promise((resolve) => blocker.once('listening', resolve))
    try {
      const second = initPixstoreBackend({ dataDir: data.dir, defaultEndpointListenPort: port })
      await expect(second.endpoint).rejects.toMatchObject({ code: 'INVALID_CONFIG' })
      expect(String(error.mock.calls[0]?.[0])).toMatch(/could not listen/)
    } finally {
      blocker.close()
      error.mockRestore()
      await other.close()
    }
  })
})

describe('error handling: per call, per instance', () => {
  const save = (mode?: 'throw' | 'warn' | 'silent' | 'custom', onError?: (error: PixstoreError) => void) =>
    initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, ...(mode ? { errorHandlingMode: mode } : {}), onError })

  it('hybrid (the default) returns null for expected errors and hands each to onError', async () => {
    const seen: PixstoreError[] = []
    save(undefined, (error) => seen.push(error))
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(seen.map((e) => e.code)).toEqual(['INVALID_IMAGE'])
  })

  it('throw rejects with the PixstoreError', async () => {
    save('throw')
    await expect(saveImage(new Uint8Array(0))).rejects.toMatchObject({ name: 'PixstoreError', code: 'INVALID_IMAGE' })
  })

  it('warn logs one line and returns null', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    save('warn')
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^\[pixstore\] INVALID_IMAGE: /))
    warn.mockRestore()
  })

  it('silent returns null without a word', async () => {
    const warn = vi.spyOn(console, 'warn')
    save('silent')
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(warn).not.toHaveBeenCalled()
    warn.mockRestore()
  })

  it('custom returns null and hands every error to onError', async () => {
    const seen: string[] = []
    save('custom', (error) => seen.push(error.code))
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(await saveImage(new Uint8Array(0), { id: '../x' })).toBeNull()
    expect(seen).toEqual(['INVALID_IMAGE', 'INVALID_ID'])
  })

  it('the mode belongs to its default instance: the backend and the frontend in one realm keep their own', async () => {
    save('throw')
    initPixstoreFrontend({ errorHandlingMode: 'silent' })
    await expect(saveImage(new Uint8Array(0))).rejects.toMatchObject({ code: 'INVALID_IMAGE' })
    expect(await getImage({ id: '..' } as never)).toBeNull()
  })

  it('instances always throw: errorHandlingMode and onError are refused by createPixstoreBackend and createPixstoreFrontend', async () => {
    expect(configError({ errorHandlingMode: 'silent' })).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('initPixstoreBackend') })
    expect(() => createPixstoreFrontend({ onError: () => undefined } as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
    save('silent')
    const backend = createPixstoreBackend({ dataDir: data.dir })
    try {
      await expect(backend.saveImage(new Uint8Array(0))).rejects.toMatchObject({ code: 'INVALID_IMAGE' })
    } finally {
      await backend.close()
    }
    await expect(createPixstoreFrontend().getImage({ id: '..' } as never)).rejects.toMatchObject({ code: 'INVALID_RECORD' })
  })

  it('a throwing onError does not replace the error it was given: the call still returns null', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    save(undefined, () => {
      throw new Error('broken hook')
    })
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('onError threw: broken hook'))
    warn.mockRestore()
  })

  it('refuses a metadata store that lacks the key rotation and instance methods, and gc options that would delete young blobs', async () => {
    const old = { get: async () => undefined, commit: async () => ({}), delete: async () => undefined, list: async () => [], replaceKey: async () => false, close: async () => undefined }
    expect(configError({ metadataStore: old, statelessProofSecret: 'x'.repeat(40), masterKeys: [`k:${Buffer.alloc(32).toString('base64')}`] })).toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('"metadataStore"'),
    })
    const backend = createPixstoreBackend({ dataDir: data.dir })
    try {
      for (const olderThanMs of [Number.NaN, -1, Infinity]) await expect(backend.gc({ olderThanMs })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    } finally {
      await backend.close()
    }
  })
})
