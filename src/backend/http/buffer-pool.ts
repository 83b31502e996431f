/**
 * Read buffers for the node handler, used again once the socket has taken their bytes.
 *
 * Every image answer is read into a buffer as large as the image. Allocating one is cheap;
 * collecting it is not: a busy route fills the young generation with large buffers that
 * are still being written when the next scavenge runs, they are promoted, and the heap
 * then needs a full mark-compact every few dozen milliseconds (measured: 166 against 7 in
 * the same run of 501 KB answers, and 3 × the CPU per request). Buffers taken from here
 * are given back when their answer has been written, so a busy route allocates almost
 * nothing and the garbage collector stays out of the way.
 */

// Smaller reads come from Node's own slab allocator, which needs no help.
const SMALLEST = 64 * 1024

/** Buffers of reusable memory. */
export interface BufferPool {
  /** `length` bytes (contents undefined), reusing a free buffer where one fits. */
  take(length: number): Buffer
  /**
   * Makes a buffer `take` returned (or any view of it) free for reuse, once nothing reads it
   * any more: never while a write of it is pending. Anything else, and a buffer already
   * given back, is ignored.
   */
  give(bytes: Uint8Array): void
}

/** The capacity a buffer of `length` bytes is taken from: quarter steps between powers of two, so at most 25 % is unused. */
function capacityFor(length: number): number {
  const step = 2 ** Math.floor(Math.log2(length)) / 4
  return Math.ceil(length / step) * step
}

/** A pool that keeps at most `maxFreeBytes` of free buffers; what is given back beyond that is left to the garbage collector. */
export function createBufferPool(maxFreeBytes: number): BufferPool {
  const free = new Map<number, ArrayBuffer[]>()
  // Every buffer the pool made, and whether it is free now (so that a second give-back cannot hand it out twice).
  const isFree = new WeakMap<ArrayBuffer, boolean>()
  let freeBytes = 0
  return {
    take(length) {
      if (length < SMALLEST) return Buffer.allocUnsafe(length)
      const capacity = capacityFor(length)
      let memory = free.get(capacity)?.pop()
      if (memory) freeBytes -= capacity
      else memory = Buffer.allocUnsafeSlow(capacity).buffer as ArrayBuffer
      isFree.set(memory, false)
      return Buffer.from(memory, 0, length)
    },
    give(bytes) {
      const memory = bytes.buffer as ArrayBuffer
      if (isFree.get(memory) !== false) return
      if (freeBytes + memory.byteLength > maxFreeBytes) {
        isFree.delete(memory)
        return
      }
      isFree.set(memory, true)
      freeBytes += memory.byteLength
      let list = free.get(memory.byteLength)
      if (!list) free.set(memory.byteLength, (list = []))
      list.push(memory)
    },
  }
}
