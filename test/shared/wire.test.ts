import { describe, expect, it } from 'vitest'
import { PayloadState, decodePayload, encodePayload, isPixstoreError, type Payload } from 'pixstore/shared'

const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 255)

const samples: Payload[] = [
  { state: PayloadState.Success, ciphertext: bytes(40, 1) },
  {
    state: PayloadState.Updated,
    token: Number.MAX_SAFE_INTEGER - 7,
    key: bytes(32, 2),
    iv: bytes(12, 3),
    tag: bytes(16, 4),
    ciphertext: bytes(25, 5),
  },
  { state: PayloadState.NotFound },
  { state: PayloadState.MissingID },
  { state: PayloadState.MissingProof },
  { state: PayloadState.InvalidProof },
  { state: PayloadState.InternalError },
]

const failsCleanly = (payload: Uint8Array) => {
  try {
    decodePayload(payload)
    return false
  } catch (error) {
    return isPixstoreError(error) && error.code === 'INVALID_PAYLOAD'
  }
}

describe('wire format', () => {
  it.each(samples)('round-trips state $state', (payload) => {
    expect(decodePayload(encodePayload(payload))).toEqual(payload)
  })

  it('lays out an Updated payload as state, u64 LE token, key, iv, tag, ciphertext', () => {
    const encoded = encodePayload(samples[1]!)
    expect(encoded.length).toBe(1 + 8 + 32 + 12 + 16 + 25)
    expect(encoded[0]).toBe(1)
    expect(new DataView(encoded.buffer).getBigUint64(1, true)).toBe(BigInt(Number.MAX_SAFE_INTEGER - 7))
    expect(encoded.subarray(9, 41)).toEqual(bytes(32, 2))
    expect(encoded.subarray(69)).toEqual(bytes(25, 5))
  })

  it('lays out a Success payload as the state byte then the ciphertext', () => {
    expect(encodePayload(samples[0]!)).toEqual(Uint8Array.of(0, ...bytes(40, 1)))
  })

  it('refuses every truncation of an Updated payload header', () => {
    const encoded = encodePayload(samples[1]!)
    for (let length = 0; length <= 69; length++) expect(failsCleanly(encoded.subarray(0, length)), `length ${length}`).toBe(true)
  })

  it('refuses an empty payload, a bare success byte, unknown states and trailing bytes on single-byte states', () => {
    expect(failsCleanly(new Uint8Array())).toBe(true)
    expect(failsCleanly(Uint8Array.of(0))).toBe(true)
    for (let state = 7; state < 256; state++) expect(failsCleanly(Uint8Array.of(state, 1, 2))).toBe(true)
    for (let state = 2; state <= 6; state++) expect(failsCleanly(Uint8Array.of(state, 0))).toBe(true)
  })

  it('refuses a token beyond the safe integer range', () => {
    const encoded = encodePayload(samples[1]!)
    new DataView(encoded.buffer).setBigUint64(1, 2n ** 63n, true)
    expect(failsCleanly(encoded)).toBe(true)
  })
})
