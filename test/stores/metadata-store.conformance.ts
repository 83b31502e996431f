import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ImageVersion, MetadataStore, StoredImage } from 'pixstore/backend'

/** A new version of `id` with random key material, as a writer commits it. */
export const version = (id: string, overrides: Partial<ImageVersion> = {}): ImageVersion => ({
  id,
  keyId: 'k1',
  wrappedKey: randomBytes(60).toString('base64'),
  iv: randomBytes(12).toString('base64'),
  tag: randomBytes(16).toString('base64'),
  blobKey: randomBytes(16).toString('hex'),
  format: 'png',
  bytes: 1234,
  width: 10,
  height: 20,
  ...overrides,
})

const codeOf = async (action: Promise<unknown>) => {
  try {
    await action
    return 'OK'
  } catch (error) {
    return (error as { code?: string }).code
  }
}

/** The behaviour every metadata store must have, run against one store. */
export function testMetadataStore(name: string, open: () => Promise<{ store: MetadataStore; cleanup: () => Promise<void> }>): void {
  describe(`metadata store conformance: ${name}`, () => {
    let store: MetadataStore
    let cleanup: () => Promise<void>
    beforeEach(async () => {
      ;({ store, cleanup } = await open())
    })
    afterEach(async () => {
      await store.close()
      await cleanup()
    })

    it('creates, reads, updates and deletes a row, reporting the row each write replaced', async () => {
      expect(await store.get('a')).toBeUndefined()
      const first = version('a')
      const created = await store.commit(first, 'create')
      expect(created.replaced).toBeUndefined()
      expect(created.image).toMatchObject({ ...first, token: expect.any(Number), updatedAt: expect.any(Number) })
      expect(await store.get('a')).toEqual(created.image)
      const second = version('a', { format: 'jpeg', width: 30 })
      const updated = await store.commit(second, 'update')
      expect(updated.replaced).toEqual(created.image)
      expect(updated.image.token).toBeGreaterThan(created.image.token)
      expect(await store.get('a')).toEqual(updated.image)
      expect(await store.delete('a')).toEqual(updated.image)
      expect(await store.delete('a')).toBeUndefined()
      expect(await store.get('a')).toBeUndefined()
    })

    it('keeps a version\'s variants and placeholder, replaces them with the version, and sets them only on the version they were made from', async () => {
      const variants = [
        { width: 160, height: 120, format: 'webp' as const, bytes: 4000, salt: 'AAAAAAAAAAAAAAAA' },
        { width: 320, height: 240, format: 'avif' as const, bytes: 9000, salt: 'AQEBAQEBAQEBAQEB' },
      ]
      const first = { ...version('v'), variants, placeholder: 'c2VhbGVk' }
      const created = await store.commit(first, 'create')
      expect(await store.get('v')).toEqual(created.image)
      expect(created.image).toMatchObject({ variants, placeholder: 'c2VhbGVk' })
      expect((await store.getMany!(['v']))[0]).toEqual(created.image)
      // An update without variants leaves none: a version's variants never outlive it.
      const second = version('v')
      const updated = await store.commit(second, 'update')
      expect(updated.replaced).toEqual(created.image)
      const plain = await store.get('v')
      expect(plain?.variants).toBeUndefined()
      expect(plain?.placeholder).toBeUndefined()
      // Backfill: only onto the version named, and the token stays.
      expect(store.setVariants).toBeTypeOf('function')
      expect(await store.setVariants!('v', first.blobKey, variants, 'cGg=')).toBe(false)
      expect(await store.setVariants!('v', second.blobKey, variants, 'cGg=')).toBe(true)
      expect(await store.get('v')).toEqual({ ...updated.image, variants, placeholder: 'cGg=' })
      expect(await store.delete('v')).toEqual({ ...updated.image, variants, placeholder: 'cGg=' })
    })

    it('reads several rows in one call, in the order asked, with nothing for unknown ids', async () => {
      expect(store.getMany).toBeTypeOf('function')
      const rows = new Map<string, StoredImage>()
      for (const id of ['m1', 'm2', 'm3']) rows.set(id, (await store.commit(version(id), 'create')).image)
      expect(await store.getMany!(['m3', 'nope', 'm1', 'm2', 'm3'])).toEqual([rows.get('m3'), undefined, rows.get('m1'), rows.get('m2'), rows.get('m3')])
      expect(await store.getMany!([])).toEqual([])
      // Ids are data, never SQL or JSON syntax.
      expect(await store.getMany!(["m1' OR '1'='1", '"]', 'm2'])).toEqual([undefined, undefined, rows.get('m2')])
    })

    it('refuses to create a taken id and to update a missing one', async () => {
      await store.commit(version('taken'), 'create')
      expect(await codeOf(store.commit(version('taken'), 'create'))).toBe('ALREADY_EXISTS')
      expect(await codeOf(store.commit(version('missing'), 'update'))).toBe('NOT_FOUND')
      expect(await store.get('missing')).toBeUndefined()
    })

    it('gives strictly growing tokens across ids, deletes, re-creates and concurrent writes', async () => {
      const tokens: number[] = []
      tokens.push((await store.commit(version('x'), 'create')).image.token)
      tokens.push((await store.commit(version('y'), 'create')).image.token)
      await store.delete('x')
      tokens.push((await store.commit(version('x'), 'create')).image.token)
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!)
      const concurrent = await Promise.all(Array.from({ length: 30 }, (_, i) => store.commit(version(i % 2 ? 'x' : 'y'), 'update')))
      const issued = concurrent.map((c) => c.image.token)
      expect(new Set(issued).size).toBe(30)
      expect(Math.min(...issued)).toBeGreaterThan(tokens[2]!)
      const final = [await store.get('x'), await store.get('y')] as StoredImage[]
      expect(Math.max(...final.map((f) => f.token))).toBe(Math.max(...issued))
    })

    it('lists every row in byte order of ids, page by page', async () => {
      const ids = ['b', 'B', 'a', 'a:1', 'a-2', 'Z', 'z', '0']
      for (const id of ids) await store.commit(version(id), 'create')
      const seen: string[] = []
      let after: string | undefined
      for (;;) {
        const page = await store.list(after, 3)
        seen.push(...page.map((row) => row.id))
        if (page.length < 3) break
        after = page[page.length - 1]!.id
      }
      expect(seen).toEqual([...ids].sort())
    })

    it('replaces a wrapped key only while the row still holds the expected one', async () => {
      const { image } = await store.commit(version('r'), 'create')
      const to = { keyId: 'k2', wrappedKey: randomBytes(60).toString('base64') }
      expect(await store.replaceKey('r', image.blobKey, { keyId: 'k1', wrappedKey: 'stale' }, to)).toBe(false)
      expect(await store.replaceKey('r', 'other-blob', image, to)).toBe(false)
      expect(await store.replaceKey('r', image.blobKey, image, to)).toBe(true)
      expect(await store.get('r')).toMatchObject({ ...to, token: image.token, blobKey: image.blobKey })
    })

    it('imports a row as it is and keeps its clock ahead of the imported token, where it can import', async () => {
      if (!store.import) return
      const row: StoredImage = { ...version('imported'), token: Date.now() + 10_000_000, updatedAt: 1_700_000_000_000 }
      expect(await store.import(row)).toBe(true)
      expect(await store.get('imported')).toEqual(row)
      expect(await store.import({ ...row, bytes: 1 })).toBe(false)
      expect((await store.commit(version('after'), 'create')).image.token).toBeGreaterThan(row.token)
    })

    it('refuses commits, imports and rewraps under a retired key, and reports the keys rows use', async () => {
      const { image } = await store.commit(version('old-1'), 'create')
      await store.commit(version('new-1', { keyId: 'k2' }), 'create')
      expect(await store.keyIdsInUse()).toEqual(['k1', 'k2'])
      expect(await store.retiredKeyIds()).toEqual([])
      await store.retireKeys(['k1', 'k0'])
      await store.retireKeys(['k1'])
      expect(await store.retiredKeyIds()).toEqual(['k0', 'k1'])
      expect(await codeOf(store.commit(version('old-2'), 'create'))).toBe('KEY_RETIRED')
      expect(await codeOf(store.commit(version('old-1'), 'update'))).toBe('KEY_RETIRED')
      expect(await store.get('old-2')).toBeUndefined()
      expect(await store.get('old-1')).toEqual(image)
      if (store.import) {
        const row: StoredImage = { ...version('imported-old'), token: 1, updatedAt: 1 }
        expect(await codeOf(store.import(row))).toBe('KEY_RETIRED')
      }
      const to = { keyId: 'k0', wrappedKey: randomBytes(60).toString('base64') }
      expect(await store.replaceKey('old-1', image.blobKey, image, to)).toBe(false)
      expect(await codeOf(store.commit(version('old-1', { keyId: 'k2' }), 'update'))).toBe('OK')
      expect(await store.keyIdsInUse()).toEqual(['k2'])
    })

    it('lists the instances heard from lately, with what they hold, and forgets one that closes', async () => {
      const info = (id: string) => ({ id, host: 'h', pid: 1, masterKeyIds: ['k2', 'k1'], reloadsKeys: true, proofWindowMs: 20_000 })
      await store.beat(info('a'))
      await store.beat(info('b'))
      await store.beat({ ...info('a'), masterKeyIds: ['k3'] })
      const live = (await store.liveInstances(60_000)).sort((x, y) => x.id.localeCompare(y.id))
      expect(live).toEqual([
        { ...info('a'), masterKeyIds: ['k3'], seenAt: expect.any(Number) },
        { ...info('b'), seenAt: expect.any(Number) },
      ])
      expect(Math.abs(live[0]!.seenAt - Date.now())).toBeLessThan(60_000)
      await store.forgetInstance('a')
      expect((await store.liveInstances(60_000)).map((i) => i.id)).toEqual(['b'])
      await new Promise((resolve) => setTimeout(resolve, 30))
      expect(await store.liveInstances(10)).toEqual([])
    })

    it('commits an inline blob with the row that names it, and removes it with the row or when a newer version commits', async () => {
      const inline = store.inlineBlobs
      if (!inline || inline.maxBytes === 0) return
      const bytes = randomBytes(64)
      const first = version('inline')
      await store.commit(first, 'create', bytes)
      expect(Buffer.from((await inline.read(first.blobKey))!)).toEqual(bytes)
      const second = version('inline')
      await store.commit(second, 'update', randomBytes(32))
      expect(await inline.read(first.blobKey)).toBeUndefined()
      // A refused commit stores nothing: its blob was never anywhere else.
      const refused = version('inline')
      expect(await codeOf(store.commit(refused, 'create', randomBytes(16)))).toBe('ALREADY_EXISTS')
      expect(await inline.read(refused.blobKey)).toBeUndefined()
      await store.delete('inline')
      expect(await inline.read(second.blobKey)).toBeUndefined()
      const listed: string[] = []
      for await (const blob of inline.list()) listed.push(blob.key)
      expect(listed).toEqual([])
    })

    it('reads a row with its inline blob in one call, where it can', async () => {
      const getWithBlob = store.inlineBlobs?.getWithBlob?.bind(store.inlineBlobs)
      if (!getWithBlob || store.inlineBlobs!.maxBytes === 0) return
      const bytes = randomBytes(64)
      const kept = version('with-blob')
      await store.commit(kept, 'create', bytes)
      const found = (await getWithBlob('with-blob'))!
      expect(found.image).toEqual(await store.get('with-blob'))
      expect(Buffer.from(found.blob!).equals(bytes)).toBe(true)
      // A row whose blob is elsewhere comes alone; a missing row is nothing.
      await store.commit(version('with-blob'), 'update')
      const updated = (await getWithBlob('with-blob'))!
      expect(updated.image).toEqual(await store.get('with-blob'))
      expect(updated.blob).toBeUndefined()
      expect(await getWithBlob('no-such-id')).toBeUndefined()
    })
  })
}
