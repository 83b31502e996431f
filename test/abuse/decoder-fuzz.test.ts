import 'fake-indexeddb/auto'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { getImage, initPixstoreFrontend } from 'pixstore/frontend'
import {
  PayloadState,
  UPDATED_HEADER_LENGTH,
  decodePayload,
  encodePayload,
  isPixstoreError,
  type PixstoreError,
  type PixstoreErrorCode,
} from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'
import { fixture, tempDir, uniqueDbName, seededRandom } from '../helpers.js'

// Reproduce a failure with PIXSTORE_FUZZ_SEED=<printed seed>.
const seed = Number(process.env.PIXSTORE_FUZZ_SEED ?? randomBytes(4).readUInt32LE())
const rand = seededRandom(seed)
const int = (n: number) => Math.floor(rand() * n)
const chance = (p: number) => rand() < p
const randomArray = (length: number) => Array.from({ length }, () => int(256))

/** A random byte array of 0 to 200 bytes, biased towards known states so that every branch of the decoder runs. */
function randomPayload(): Uint8Array {
  const bytes = Uint8Array.from(randomArray(int(201)))
  if (bytes.length > 0 && chance(0.6)) bytes[0] = int(8)
  // A token (u64 LE at bytes 1 to 8) that fits in a safe integer, so that some Updated payloads decode.
  if (bytes[0] === PayloadState.Updated && bytes.length > 8 && chance(0.7)) bytes.set([bytes[7]! & 0x1f, 0], 7)
  return bytes
}

/** One to three random edits of `base`: bit flips, byte changes, insertions, deletions, truncations, extensions. */
function mutate(base: Uint8Array): { bytes: Uint8Array; edits: string[] } {
  const bytes = Array.from(base)
  const edits: string[] = []
  for (let round = 1 + int(3); round > 0; round--) {
    // Half the edits land in the first 80 bytes, where the state byte and the Updated header are.
    const at = chance(0.5) ? int(Math.min(80, bytes.length + 1)) : int(bytes.length + 1)
    const kind = ['flip', 'set', 'insert', 'delete', 'truncate', 'extend', 'state'][int(7)]!
    edits.push(`${kind}@${at}`)
    if (kind === 'flip' && at < bytes.length) bytes[at]! ^= 1 << int(8)
    if (kind === 'set' && at < bytes.length) bytes[at] = int(256)
    if (kind === 'insert') bytes.splice(at, 0, ...randomArray(1 + int(8)))
    if (kind === 'delete') bytes.splice(at, 1 + int(8))
    if (kind === 'truncate') bytes.length = Math.min(bytes.length, at)
    if (kind === 'extend') bytes.push(...randomArray(1 + int(32)))
    if (kind === 'state' && bytes.length > 0) bytes[0] = int(8)
  }
  return { bytes: Uint8Array.from(bytes), edits }
}

/** Decodes `bytes` and checks the outcome: a clean INVALID_PAYLOAD refusal, or a payload that re-encodes to the same bytes. */
function decodeProblem(bytes: Uint8Array): string | undefined {
  let decoded: ReturnType<typeof decodePayload>
  try {
    decoded = decodePayload(bytes)
  } catch (error) {
    if (isPixstoreError(error) && error.code === 'INVALID_PAYLOAD') return undefined
    return `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`
  }
  if (decoded.state === PayloadState.Updated && !Number.isSafeInteger(decoded.token)) return `unsafe token ${decoded.token}`
  if ((decoded.state === PayloadState.Success || decoded.state === PayloadState.Updated) && decoded.ciphertext.length === 0) {
    return 'an empty ciphertext'
  }
  if (!Buffer.from(encodePayload(decoded)).equals(Buffer.from(bytes))) return `state ${decoded.state} does not re-encode to its bytes`
  return undefined
}

const cleanCodes: ReadonlySet<PixstoreErrorCode> = new Set<PixstoreErrorCode>([
  'INVALID_PAYLOAD',
  // A mutated token that comes out lower than the record's is a rollback.
  'STALE_PAYLOAD',
  'DECRYPT_FAILED',
  'NOT_FOUND',
  'MISSING_ID',
  'MISSING_PROOF',
  'INVALID_PROOF',
  'SERVER_ERROR',
])

describe('the wire decoder and getImage on random and mutated payloads', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  let record: ImageRecord
  const original = fixture('sample.webp')
  const real: Uint8Array[] = []
  const hex = (bytes: Uint8Array) => Buffer.from(bytes.subarray(0, 96)).toString('hex')

  beforeAll(async () => {
    console.log(`[decoder-fuzz] seed ${seed}`)
    backend = createPixstoreBackend({ dataDir: data.dir })
    record = (await backend.saveImage(original, { id: 'fuzzed' }))!
    real.push(await backend.customEndpointHelper(record.id, record.token, record.statelessProof))
    real.push(await backend.customEndpointHelper(record.id, undefined, record.statelessProof))
    expect(real.map((payload) => payload[0])).toEqual([PayloadState.Success, PayloadState.Updated])
    expect(real[1]!.length).toBeGreaterThan(UPDATED_HEADER_LENGTH)
  })
  afterAll(async () => {
    await backend.close()
    data.remove()
  })

  it('decodes or refuses with INVALID_PAYLOAD each of 20,000 random byte arrays, and what it decodes re-encodes to the same bytes', () => {
    const started = Date.now()
    const failures: string[] = []
    const states = new Map<string, number>()
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomPayload()
      const problem = decodeProblem(bytes)
      if (problem) failures.push(`${problem} [seed ${seed}, case ${i}] ${hex(bytes)}`)
      const outcome = (() => {
        try {
          return `state ${decodePayload(bytes).state}`
        } catch {
          return 'refused'
        }
      })()
      states.set(outcome, (states.get(outcome) ?? 0) + 1)
    }
    console.log(`[decoder-fuzz] random payloads: ${JSON.stringify(Object.fromEntries(states))} in ${Date.now() - started} ms`)
    expect(failures.slice(0, 20)).toEqual([])
    // Every branch ran: both image states decoded, refusals too.
    for (const outcome of ['state 0', 'state 1', 'state 2', 'refused']) expect(states.get(outcome)).toBeGreaterThan(0)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('decodes or refuses with INVALID_PAYLOAD each of 20,000 mutations of real Success and Updated payloads', () => {
    const started = Date.now()
    const failures: string[] = []
    for (let i = 0; i < 20_000; i++) {
      const { bytes, edits } = mutate(real[i % 2]!)
      const problem = decodeProblem(bytes)
      if (problem) failures.push(`${problem} [seed ${seed}, case ${i}, ${edits.join(' ')}] ${hex(bytes)}`)
    }
    expect(failures.slice(0, 20)).toEqual([])
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('getImage on mutated payloads gives null with a clean error code or the original image, never another image or a crash', async () => {
    const expectedBytes = Buffer.from(original)
    const tally = new Map<string, number>()
    const failures: string[] = []
    const started = Date.now()
    for (let i = 0; i < 400; i++) {
      // Every tenth case is an intact payload, the positive control.
      const { bytes, edits } = i % 10 === 0 ? { bytes: real[i % 20 === 0 ? 0 : 1]!, edits: ['none'] } : mutate(real[i % 2]!)
      const where = `[seed ${seed}, case ${i}, ${edits.join(' ')}]`
      // A fresh database per case, so that no cached copy answers instead of the payload.
      let lastError: PixstoreError | undefined
      initPixstoreFrontend({ indexedDbName: uniqueDbName(), onError: (error) => void (lastError = error) }, async () => bytes)
      let blob: Blob | null
      try {
        blob = await getImage(record)
      } catch (error) {
        failures.push(`threw ${String(error)} ${where}`)
        continue
      }
      if (blob === null) {
        const code = lastError?.code
        tally.set(code ?? 'no error', (tally.get(code ?? 'no error') ?? 0) + 1)
        if (!code || !cleanCodes.has(code)) failures.push(`null with ${code ?? 'no error'} ${where}`)
        if (edits[0] === 'none') failures.push(`an intact payload was refused with ${code} ${where}`)
        continue
      }
      tally.set('image', (tally.get('image') ?? 0) + 1)
      const got = Buffer.from(await blob.arrayBuffer())
      if (!got.equals(expectedBytes) || blob.type !== 'image/webp') failures.push(`a different image (${got.length} bytes, ${blob.type}) ${where}`)
    }
    const elapsed = Date.now() - started
    console.log(`[decoder-fuzz] getImage outcomes: ${JSON.stringify(Object.fromEntries(tally))} in ${elapsed} ms`)
    expect(failures.slice(0, 20)).toEqual([])
    expect(tally.get('image')).toBeGreaterThanOrEqual(40)
    expect(elapsed).toBeLessThan(20_000)
  }, 30_000)
})
