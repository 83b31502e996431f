import { randomBytes } from 'node:crypto'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { createSqliteMetadataStore, type MetadataStore } from 'pixstore/backend'
import { createRowCache } from '../../src/backend/stores/metadata/row-cache.js'
import type { StoredImage } from '../../src/backend/stores/metadata-store.js'
import { tempDir } from '../helpers.js'
import { version } from './metadata-store.conformance.js'

describe('the SQLite store keeping the rows of recent reads', () => {
  let data: ReturnType<typeof tempDir>
  const opened: MetadataStore[] = []
  const open = () => {
    const store = createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite'), inlineMaxBytes: 100_000 })
    opened.push(store)
    return store
  }
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close()
    data.remove()
  })

  it('answers a read again from memory, frozen, and a read after any commit from the database', async () => {
    data = tempDir()
    const store = open()
    await store.commit(version('a'), 'create')
    const first = (await store.get('a'))!
    expect(await store.get('a')).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    // A commit of this connection, even of another image, drops what was kept.
    await store.commit(version('b'), 'create')
    const again = (await store.get('a'))!
    expect(again).not.toBe(first)
    expect(again).toEqual(first)
    const updated = (await store.commit(version('a'), 'update')).image
    expect((await store.get('a'))!.token).toBe(updated.token)
  })

  it('never answers an older version than another process committed, inline blob included', async () => {
    data = tempDir()
    const reader = open()
    const writer = open()
    const blob = randomBytes(20_000)
    const created = (await writer.commit(version('p'), 'create', blob)).image
    const read = async () => {
      const found = (await reader.inlineBlobs!.getWithBlob!('p'))!
      return { token: found.image.token, blob: found.blob, row: await reader.get('p') }
    }
    const before = await read()
    expect(before.token).toBe(created.token)
    expect(Buffer.from(before.blob!).equals(blob)).toBe(true)
    // Kept: the same objects while nothing changes.
    expect((await read()).blob).toBe(before.blob)

    const newer = randomBytes(20_000)
    const updated = (await writer.commit(version('p'), 'update', newer)).image
    const after = await read()
    expect(after.token).toBe(updated.token)
    expect(after.row!.token).toBe(updated.token)
    expect(Buffer.from(after.blob!).equals(newer)).toBe(true)

    await writer.delete('p')
    expect(await reader.get('p')).toBeUndefined()
    expect(await reader.inlineBlobs!.getWithBlob!('p')).toBeUndefined()
  })
})

describe('the row cache', () => {
  const image = (id: string): StoredImage => ({ ...version(id), token: 1, updatedAt: 0 })

  it('keeps at most its number of rows and bytes of blobs, the oldest going first, and no blob over its size', () => {
    const db = new Database(':memory:')
    const cache = createRowCache(db, { rows: 3, blobBytes: 1000, blobMaxBytes: 600 })
    const reads: string[] = []
    const row = (id: string) => cache.row(id, () => (reads.push(id), image(id)))
    const withBlob = (id: string, size: number) => cache.withBlob(id, () => (reads.push(id), { image: image(id), blob: Buffer.alloc(size) }))
    for (const id of ['a', 'b', 'c', 'a', 'b', 'c']) row(id)
    expect(reads).toEqual(['a', 'b', 'c'])
    row('d') // 'a' goes
    row('a')
    expect(reads).toEqual(['a', 'b', 'c', 'd', 'a'])

    reads.length = 0
    withBlob('x', 500)
    withBlob('y', 500)
    withBlob('x', 500)
    withBlob('y', 500)
    expect(reads).toEqual(['x', 'y'])
    withBlob('z', 500) // 1,500 bytes: 'x' goes
    withBlob('x', 500)
    expect(reads).toEqual(['x', 'y', 'z', 'x'])
    // Over the largest blob kept: read every time, its row kept all the same.
    withBlob('big', 700)
    withBlob('big', 700)
    expect(reads.filter((id) => id === 'big')).toHaveLength(2)
    db.close()
  })

  it('keeps nothing read inside a transaction, which a rollback may undo', () => {
    const db = new Database(':memory:')
    const cache = createRowCache(db)
    const reads: string[] = []
    const read = () => cache.row('t', () => (reads.push('t'), image('t')))
    db.exec('CREATE TABLE x (y)')
    const rolledBack = db.transaction(() => {
      read()
      read()
      throw new Error('rolled back')
    })
    expect(() => rolledBack()).toThrow('rolled back')
    read()
    read()
    expect(reads).toEqual(['t', 't', 't'])
    db.close()
  })
})
