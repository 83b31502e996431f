import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createPixstoreFrontend, initPixstoreFrontend, type PixstoreFrontendConfig } from 'pixstore/frontend'
import { uniqueDbName } from '../helpers.js'

afterEach(() => vi.restoreAllMocks())

describe('pixstore 3.x frontend options', () => {
  it('compile in a 3.x config object and start, each with one warning per process naming what to do', () => {
    // A config object as a 3.x app writes it (types marked @deprecated, still accepted).
    const v3: PixstoreFrontendConfig = { frontendDbName: uniqueDbName(), frontendDbVersion: 1, imageStoreName: 'images', frontendCleanupBatch: 50, frontendImageCacheLimit: 1000 }
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    for (const [name, value] of Object.entries(v3)) {
      initPixstoreFrontend({ [name]: value })
      initPixstoreFrontend({ [name]: value })
    }
    const lines = warn.mock.calls.map(([line]) => String(line))
    expect(lines).toEqual([
      expect.stringContaining('"frontendDbName" is a pixstore 3.x option: use "indexedDbName"'),
      expect.stringContaining('"frontendDbVersion" is a pixstore 3.x option: ignored'),
      expect.stringContaining('"imageStoreName" is a pixstore 3.x option: ignored'),
      expect.stringContaining('"frontendCleanupBatch" is a pixstore 3.x option: ignored'),
    ])
  })

  it('honours frontendDbName as indexedDbName, unless indexedDbName is given too', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    expect(createPixstoreFrontend({ frontendDbName: 'from-3x' }).config.indexedDbName).toBe('from-3x')
    expect(createPixstoreFrontend({ frontendDbName: 'from-3x', indexedDbName: 'current' }).config.indexedDbName).toBe('current')
  })

  it('still names the closest option for a typo', () => {
    expect(() => initPixstoreFrontend({ frontendDbNam: 'x' } as never)).toThrow(/Did you mean "frontendDbName"/)
  })
})
