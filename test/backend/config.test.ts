import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { closePixstoreBackend, createPixstoreBackend, initPixstoreBackend, saveImage, type PixstoreBackendConfig } from 'pixstore/backend'
import { initPixstoreFrontend } from 'pixstore/frontend'
import { getLastPixstoreError, setCustomErrorHandler, setErrorHandlingMode, type PixstoreError } from 'pixstore/shared'
import { tempDir } from '../helpers.js'

const data = tempDir()
afterAll(() => data.remove())
afterEach(async () => {
  await closePixstoreBackend()
  setErrorHandlingMode('hybrid')
  setCustomErrorHandler(null)
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
    [{ maxImageBytes: 0 }, 'maxImageBytes'],
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

  it('reports NOT_INITIALIZED when used before initPixstoreBackend', () => {
    expect(() => saveImage(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'NOT_INITIALIZED' }))
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

describe('error handling modes', () => {
  const save = () => initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false })

  it('hybrid returns null for expected errors and keeps them for getLastPixstoreError', async () => {
    save()
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(getLastPixstoreError()?.code).toBe('INVALID_IMAGE')
  })

  it('throw rejects with the PixstoreError', async () => {
    initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, errorHandlingMode: 'throw' })
    await expect(saveImage(new Uint8Array(0))).rejects.toMatchObject({ name: 'PixstoreError', code: 'INVALID_IMAGE' })
  })

  it('warn logs one line and returns null', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, errorHandlingMode: 'warn' })
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^\[pixstore\] INVALID_IMAGE: /))
    warn.mockRestore()
  })

  it('silent returns null without a word', async () => {
    const warn = vi.spyOn(console, 'warn')
    initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, errorHandlingMode: 'silent' })
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(warn).not.toHaveBeenCalled()
    warn.mockRestore()
  })

  it('custom hands every error to the handler', async () => {
    const seen: string[] = []
    setCustomErrorHandler((error) => seen.push(error.code))
    initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, errorHandlingMode: 'custom' })
    expect(await saveImage(new Uint8Array(0))).toBeNull()
    expect(await saveImage(new Uint8Array(0), { id: '../x' })).toBeNull()
    expect(seen).toEqual(['INVALID_IMAGE', 'INVALID_ID'])
  })
})
