import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { BlobStore } from 'pixstore/backend'

const newKey = () => randomBytes(16).toString('hex')

/** The behaviour every blob store must have, run against one store. */
export function testBlobStore(name: string, open: () => Promise<{ store: BlobStore; cleanup: () => Promise<void> }>): void {
  describe(`blob store conformance: ${name}`, () => {
    let store: BlobStore
    let cleanup: () => Promise<void>
    beforeEach(async () => {
      ;({ store, cleanup } = await open())
    })
    afterEach(async () => {
      await store.close()
      await cleanup()
    })

    it('reads back exactly what it wrote, and nothing for a missing key', async () => {
      const key = newKey()
      const bytes = randomBytes(300_000)
      await store.write(key, bytes)
      expect(Buffer.from((await store.read(key))!)).toEqual(bytes)
      expect(await store.read(newKey())).toBeUndefined()
    })

    it('reads a blob after free room for a header, where it can, and nothing for a missing key', async () => {
      expect(store.readWithRoom).toBeTypeOf('function')
      const key = newKey()
      const bytes = randomBytes(700_000)
      await store.write(key, bytes)
      for (const room of [0, 1, 69]) {
        const framed = Buffer.from((await store.readWithRoom!(key, room))!)
        expect(framed.length).toBe(room + bytes.length)
        expect(framed.subarray(room)).toEqual(bytes)
      }
      expect(await store.readWithRoom!(newKey(), 1)).toBeUndefined()
    })

    it('reads into the buffer the caller allocates, where it reads whole', async () => {
      const key = newKey()
      const bytes = randomBytes(200_000)
      await store.write(key, bytes)
      const given: Buffer[] = []
      const allocate = (length: number) => given[given.push(Buffer.alloc(length)) - 1]!
      const framed = (await store.readWithRoom!(key, 3, bytes.length, allocate))!
      expect(given.map((buffer) => buffer.length)).toEqual([3 + bytes.length])
      expect(framed.buffer).toBe(given[0]!.buffer)
      expect(Buffer.from(framed.subarray(3)).equals(bytes)).toBe(true)
    })

    it('deletes, and deleting a missing key is no error', async () => {
      const key = newKey()
      await store.write(key, randomBytes(10))
      await store.delete(key)
      expect(await store.read(key)).toBeUndefined()
      await store.delete(key)
    })

    it('streams a blob with its size, where it can', async () => {
      if (!store.open) return
      const key = newKey()
      const bytes = randomBytes(1_000_000)
      await store.write(key, bytes)
      const opened = (await store.open(key))!
      expect(opened.size).toBe(bytes.length)
      const chunks: Uint8Array[] = []
      for await (const chunk of opened.body) chunks.push(chunk)
      expect(Buffer.concat(chunks)).toEqual(bytes)
      expect(await store.open(newKey())).toBeUndefined()
    })

    it('lists every blob with its size and a recent time, where it can', async () => {
      if (!store.list) return
      const keys = [newKey(), newKey(), newKey()]
      for (const [i, key] of keys.entries()) await store.write(key, randomBytes(100 + i))
      const listed = new Map<string, { size: number; modifiedAt: number }>()
      for await (const blob of store.list()) listed.set(blob.key, blob)
      for (const [i, key] of keys.entries()) {
        expect(listed.get(key)?.size).toBe(100 + i)
        expect(Math.abs(Date.now() - listed.get(key)!.modifiedAt)).toBeLessThan(60_000)
      }
    })

    it('refuses a key that is not one of its own, so no key can name a path', async () => {
      await expect(store.write('../escape', randomBytes(4))).rejects.toThrow()
      await expect(store.read('a/b')).rejects.toThrow()
    })
  })
}
