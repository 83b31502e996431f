import { describe, expect, it } from 'vitest'
import { createBufferPool } from '../../src/backend/http/buffer-pool.js'

describe('the read buffer pool', () => {
  it('hands a buffer out again only after it was given back, for any length of its size', () => {
    const pool = createBufferPool(8 * 1024 * 1024)
    const first = pool.take(500_000)
    expect(first.byteLength).toBe(500_000)
    // Still in use: a second answer gets memory of its own.
    const second = pool.take(500_000)
    expect(second.buffer).not.toBe(first.buffer)
    pool.give(first.subarray(1))
    const again = pool.take(480_000)
    expect(again.buffer).toBe(first.buffer)
    expect(again.byteLength).toBe(480_000)
    // A length of another size class takes other memory.
    expect(pool.take(900_000).buffer).not.toBe(second.buffer)
  })

  it('never hands one buffer to two takers, whatever is given back twice', () => {
    const pool = createBufferPool(8 * 1024 * 1024)
    const bytes = pool.take(300_000)
    pool.give(bytes)
    pool.give(bytes)
    const a = pool.take(300_000)
    const b = pool.take(300_000)
    expect(a.buffer).toBe(bytes.buffer)
    expect(b.buffer).not.toBe(a.buffer)
  })

  it('ignores what it did not make, and keeps no more than its bound', () => {
    const pool = createBufferPool(1024 * 1024)
    const foreign = Buffer.allocUnsafeSlow(300_000)
    pool.give(foreign)
    expect(pool.take(300_000).buffer).not.toBe(foreign.buffer)
    // Two 768 KiB buffers do not fit in 1 MiB: the second one given back is dropped.
    const [x, y] = [pool.take(700_000), pool.take(700_000)]
    pool.give(x)
    pool.give(y)
    expect(pool.take(700_000).buffer).toBe(x.buffer)
    expect(pool.take(700_000).buffer).not.toBe(y.buffer)
  })
})
