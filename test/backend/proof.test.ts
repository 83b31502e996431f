import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, createWebHandler, type PixstoreBackend, type PixstoreBackendConfig } from 'pixstore/backend'
import { PayloadState, decodePayload, type Payload } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'
import { fixture, sleep, tempDir } from '../helpers.js'

const secretNew = 'n'.repeat(16) + randomBytes(24).toString('base64url')
const secretOld = 'o'.repeat(16) + randomBytes(24).toString('base64url')

interface Ask {
  proof?: string
  token?: string | number
  /** Send proof and token as query parameters instead of headers. */
  inQuery?: boolean
  method?: string
}

async function request(backend: PixstoreBackend, id: string, ask: Ask = {}): Promise<Response> {
  const url = new URL(`http://localhost/pixstore-image/${encodeURIComponent(id)}`)
  const headers = new Headers()
  if (ask.proof !== undefined) {
    if (ask.inQuery) url.searchParams.set('proof', ask.proof)
    else headers.set('x-pixstore-proof', ask.proof)
  }
  if (ask.token !== undefined) {
    if (ask.inQuery) url.searchParams.set('token', String(ask.token))
    else headers.set('x-pixstore-token', String(ask.token))
  }
  return createWebHandler(backend)(new Request(url, { method: ask.method ?? 'GET', headers }))
}

async function payload(backend: PixstoreBackend, id: string, ask: Ask = {}): Promise<Payload> {
  const response = await request(backend, id, ask)
  expect(response.status).toBe(200)
  return decodePayload(new Uint8Array(await response.arrayBuffer()))
}

const stateOf = async (backend: PixstoreBackend, id: string, ask: Ask = {}) => (await payload(backend, id, ask)).state

/** Flips one bit of the decoded proof bytes, keeping a well-formed 43-character proof. */
function flipBit(proof: string): string {
  const bytes = Buffer.from(proof, 'base64url')
  bytes[7] = bytes[7]! ^ 0x10
  return bytes.toString('base64url')
}

describe('stateless proofs on the image route', () => {
  let data: ReturnType<typeof tempDir>
  const open: PixstoreBackend[] = []

  const start = (options: Omit<PixstoreBackendConfig, 'dataDir'> = {}) => {
    const backend = createPixstoreBackend({ dataDir: data.dir, statelessProofSecret: secretNew, ...options })
    open.push(backend)
    return backend
  }
  const restart = async (backend: PixstoreBackend, options: Omit<PixstoreBackendConfig, 'dataDir'> = {}) => {
    await backend.close()
    return start(options)
  }
  const save = async (backend: PixstoreBackend, id = 'player-42'): Promise<ImageRecord> =>
    (await backend.saveImage(fixture('sample.png'), { id }))!

  beforeEach(() => {
    data = tempDir()
    // An ambient secret would override the generated one; these tests choose their secrets.
    vi.stubEnv('PIXSTORE_PROOF_SECRET', '')
  })
  afterEach(async () => {
    for (const backend of open.splice(0)) await backend.close()
    vi.unstubAllEnvs()
    data.remove()
  })

  it('answers 200 with an uncacheable binary payload', async () => {
    const backend = start()
    const record = await save(backend)
    const response = await request(backend, record.id, { proof: record.statelessProof })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/octet-stream')
    expect(response.headers.get('cache-control')).toBe('no-store')
  })

  it('answers a CORS preflight with 204 and a max age, and refuses POST with 405', async () => {
    const backend = start()
    const preflight = await request(backend, 'player-42', { method: 'OPTIONS' })
    expect(preflight.status).toBe(204)
    expect(Number(preflight.headers.get('access-control-max-age'))).toBeGreaterThan(0)
    const post = await request(backend, 'player-42', { method: 'POST' })
    expect(post.status).toBe(405)
  })

  it('gives MissingProof without a proof and MissingID without an id', async () => {
    const backend = start()
    const record = await save(backend)
    expect(await stateOf(backend, record.id)).toBe(PayloadState.MissingProof)
    expect(await stateOf(backend, '', { proof: record.statelessProof })).toBe(PayloadState.MissingID)
    expect(await stateOf(backend, '')).toBe(PayloadState.MissingID)
  })

  it('refuses forged, bit-flipped and other-id proofs with InvalidProof', async () => {
    const backend = start()
    const record = await save(backend)
    const other = await save(backend, 'player-43')
    const forged = randomBytes(32).toString('base64url')
    expect(forged).toHaveLength(43)
    // The same 32 bytes spelled with a spare bit of the last character set.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = record.statelessProof.at(-1)!
    const respelled = record.statelessProof.slice(0, -1) + alphabet[alphabet.indexOf(last) ^ 1]
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(record.statelessProof, 'base64url'))
    for (const proof of [forged, flipBit(record.statelessProof), other.statelessProof, respelled]) {
      expect(await stateOf(backend, record.id, { proof })).toBe(PayloadState.InvalidProof)
    }
    expect(await stateOf(backend, record.id, { proof: record.statelessProof })).toBe(PayloadState.Updated)
  })

  it('accepts a fresh proof and refuses it once two windows have passed', async () => {
    const backend = start({ statelessKeyWindowLength: 100 })
    const record = await save(backend)
    expect(await stateOf(backend, record.id, { proof: record.statelessProof })).toBe(PayloadState.Updated)
    await sleep(250)
    expect(await stateOf(backend, record.id, { proof: record.statelessProof })).toBe(PayloadState.InvalidProof)
    // A record minted now works again.
    const fresh = backend.getImageRecord(record.id)!
    expect(await stateOf(backend, record.id, { proof: fresh.statelessProof })).toBe(PayloadState.Updated)
  })

  it('keeps proofs valid across a restart with the generated secret, stored owner-only', async () => {
    const first = start({ statelessProofSecret: undefined })
    expect(first.secretSource).toBe('generated')
    const record = await save(first)
    const secretFile = path.join(data.dir, 'proof-secret')
    expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600)

    const second = await restart(first, { statelessProofSecret: undefined })
    expect(second.secretSource).toBe('loaded')
    expect(await stateOf(second, record.id, { proof: record.statelessProof })).toBe(PayloadState.Updated)
  })

  it('refuses a proof made under another secret', async () => {
    const first = start({ statelessProofSecret: secretOld })
    const record = await save(first)
    const second = await restart(first, { statelessProofSecret: secretNew })
    expect(await stateOf(second, record.id, { proof: record.statelessProof })).toBe(PayloadState.InvalidProof)
  })

  it('accepts proofs of a rotated-out secret listed after the new one', async () => {
    const first = start({ statelessProofSecret: secretOld })
    const record = await save(first)
    const second = await restart(first, { statelessProofSecret: [secretNew, secretOld] })
    expect(await stateOf(second, record.id, { proof: record.statelessProof })).toBe(PayloadState.Updated)
    // New proofs are signed with the first secret, so a backend that knows only it accepts them.
    const fresh = second.getImageRecord(record.id)!
    expect(fresh.statelessProof).not.toBe(record.statelessProof)
    const third = await restart(second, { statelessProofSecret: secretNew })
    expect(await stateOf(third, record.id, { proof: fresh.statelessProof })).toBe(PayloadState.Updated)
  })

  it('gives proofs that never expire with statelessKeyWindowLength -1', async () => {
    const backend = start({ statelessKeyWindowLength: -1 })
    const record = await save(backend)
    await sleep(30)
    // The proof does not depend on the time it was minted.
    expect(backend.getImageRecord(record.id)!.statelessProof).toBe(record.statelessProof)
    expect(await stateOf(backend, record.id, { proof: record.statelessProof })).toBe(PayloadState.Updated)
  })

  it('does not tell an unknown id from a wrong proof', async () => {
    const backend = start()
    const record = await save(backend)
    const forged = randomBytes(32).toString('base64url')
    expect(await stateOf(backend, 'no-such-player', { proof: forged })).toBe(PayloadState.InvalidProof)
    expect(await stateOf(backend, 'no-such-player', { proof: record.statelessProof })).toBe(PayloadState.InvalidProof)
    expect(await stateOf(backend, record.id, { proof: forged })).toBe(PayloadState.InvalidProof)
  })

  it('gives NotFound for a deleted image fetched with a valid proof', async () => {
    const backend = start()
    const record = await save(backend)
    expect(await backend.deleteImage(record.id)).toBe(true)
    expect(await stateOf(backend, record.id, { proof: record.statelessProof })).toBe(PayloadState.NotFound)
  })

  it('accepts the proof and token as query parameters', async () => {
    const backend = start()
    const record = await save(backend)
    expect(await stateOf(backend, record.id, { proof: record.statelessProof, inQuery: true })).toBe(PayloadState.Updated)
    const current = { proof: record.statelessProof, token: record.token, inQuery: true }
    expect(await stateOf(backend, record.id, current)).toBe(PayloadState.Success)
    expect(await stateOf(backend, record.id, { proof: flipBit(record.statelessProof), inQuery: true })).toBe(PayloadState.InvalidProof)
  })

  it('sends only the ciphertext to a client holding the current token', async () => {
    const backend = start()
    const record = await save(backend)
    const updated = await payload(backend, record.id, { proof: record.statelessProof })
    const success = await payload(backend, record.id, { proof: record.statelessProof, token: record.token })
    expect(success.state).toBe(PayloadState.Success)
    expect(updated.state).toBe(PayloadState.Updated)
    if (success.state !== PayloadState.Success || updated.state !== PayloadState.Updated) return
    expect(Buffer.from(success.ciphertext).equals(Buffer.from(updated.ciphertext))).toBe(true)
  })

  it('sends the current token and meta to a client with a stale, wrong or missing token', async () => {
    const backend = start()
    const stale = await save(backend)
    const current = (await backend.updateImage(stale.id, fixture('sample.jpg')))!
    for (const token of [stale.token, current.token + 1, 'garbage', undefined]) {
      const answer = await payload(backend, stale.id, { proof: stale.statelessProof, token })
      expect(answer.state).toBe(PayloadState.Updated)
      if (answer.state !== PayloadState.Updated) continue
      expect(answer.token).toBe(current.token)
      expect(Buffer.from(answer.key).toString('base64')).toBe(current.meta.key)
      expect(Buffer.from(answer.iv).toString('base64')).toBe(current.meta.iv)
      expect(Buffer.from(answer.tag).toString('base64')).toBe(current.meta.tag)
    }
  })
})
