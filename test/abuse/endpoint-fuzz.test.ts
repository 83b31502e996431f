import { createDecipheriv, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { METHODS } from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { closePixstoreBackend, initPixstoreBackend } from 'pixstore/backend'
import { PayloadState, decodePayload } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'
import { fixture, tempDir, seededRandom } from '../helpers.js'

// Reproduce a failure with PIXSTORE_FUZZ_SEED=<printed seed>.
const seed = Number(process.env.PIXSTORE_FUZZ_SEED ?? randomBytes(4).readUInt32LE())
const rand = seededRandom(seed)
const int = (n: number) => Math.floor(rand() * n)
const pick = <T,>(items: readonly T[]): T => items[int(items.length)]!
const chance = (p: number) => rand() < p
const word = () => Array.from({ length: 1 + int(10) }, () => String.fromCharCode(65 + int(26))).join('')
// Random bytes as a latin1 string; CR and LF would end the header and change the framing.
const junk = (n: number) => String.fromCharCode(...Array.from({ length: n }, () => int(256))).replace(/[\r\n]/g, '~')

const [TOTAL, CONCURRENCY] = [3000, 20]
interface Image { id: string; file: string; record: ImageRecord; ciphertext: Buffer }
interface Sent { bytes: Buffer; method: string; lineValid: boolean; canonical?: Image; currentToken?: boolean }
interface Answer { status: number; headers: Map<string, string>; body: Buffer }

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = []
  for (let at = 0; ; ) {
    const eol = data.indexOf('\r\n', at)
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16)
    if (eol < 0 || !Number.isFinite(size)) throw new Error('malformed chunked body')
    if (size === 0) return Buffer.concat(parts)
    parts.push(data.subarray(eol + 2, eol + 2 + size))
    at = eol + 4 + size
  }
}

function parseAnswer(raw: Buffer, method: string): Answer {
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) throw new Error('no complete response head')
  const [line, ...fields] = raw.subarray(0, end).toString('latin1').split('\r\n')
  const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(line!)?.[1] ?? NaN)
  const headers = new Map(fields.map((f) => [f.slice(0, f.indexOf(':')).toLowerCase(), f.slice(f.indexOf(':') + 1).trim()]))
  const rest = raw.subarray(end + 4)
  if (method === 'HEAD' || status === 204 || status === 304) return { status, headers, body: rest }
  if (headers.get('transfer-encoding') === 'chunked') return { status, headers, body: dechunk(rest) }
  const length = headers.get('content-length')
  if (length !== undefined && Number(length) !== rest.length) throw new Error(`Content-Length ${length}, got ${rest.length} bytes`)
  return { status, headers, body: rest }
}

/** A raw request; every string is latin1, one byte per character. */
const build = (method: string, target: string, headers: string[]) =>
  Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`, 'latin1')

/** Writes one raw request and reads until the server closes (Connection: close). */
function sendRaw(port: number, bytes: Buffer): Promise<{ raw: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let error: string | undefined
    const socket = net.connect(port, '127.0.0.1')
    socket.setTimeout(5000, () => ((error = 'timeout'), socket.destroy()))
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message))
    socket.on('close', () => resolve({ raw: Buffer.concat(chunks), error }))
    socket.write(bytes)
  })
}

describe('the endpoint under malformed requests over raw TCP', () => {
  const parent = tempDir('pixstore-fuzz-')
  const dataDir = path.join(parent.dir, 'data')
  const canaries = [path.join(parent.dir, 'canary.txt'), path.join(os.tmpdir(), `pixstore-fuzz-canary-${process.pid}-${seed}.txt`)]
  const images: Image[] = []
  let port = 0
  const errors = vi.spyOn(console, 'error')

  beforeAll(async () => {
    console.log(`[endpoint-fuzz] seed ${seed}`)
    const then = new Date('2020-01-01T00:00:00Z')
    for (const canary of canaries) {
      fs.writeFileSync(canary, 'canary')
      fs.utimesSync(canary, then, then)
    }
    // A long proof window, so proofs minted here stay valid for the whole run.
    const { backend, endpoint } = initPixstoreBackend({ dataDir, defaultEndpointListenPort: 0, statelessKeyWindowLength: 600_000 })
    port = (await endpoint)!.port
    for (const [id, file] of [['player-1', 'sample.png'], ['team.a:b@c_2', 'sample.jpg']] as const) {
      const record = (await backend.saveImage(fixture(file), { id }))!
      const payload = decodePayload(await backend.customEndpointHelper(id, undefined, record.statelessProof))
      if (payload.state !== PayloadState.Updated) throw new Error('setup: no Updated payload')
      images.push({ id, file, record, ciphertext: Buffer.from(payload.ciphertext) })
    }
    // Only what the requests cause counts, not notices logged while setting up.
    errors.mockClear()
  })
  afterAll(async () => {
    errors.mockRestore()
    await closePixstoreBackend()
    parent.remove()
    fs.rmSync(canaries[1]!, { force: true })
  })

  function generate(): Sent {
    const image = pick(images)
    const other = images.find((i) => i !== image)!
    const tokens = ['NaN', '-1', '1e309', '99999999999999999999999', '0x10', ' 12', '', String(image.record.token), '+1', `${image.record.token + 1}`]
    if (chance(0.15)) {
      // A well-formed request with the right proof: the positive control of the run.
      const token = pick(tokens)
      const inQuery = chance(0.3)
      const target = `/pixstore-image/${encodeURIComponent(image.id)}${inQuery ? `?proof=${image.record.statelessProof}&token=${encodeURIComponent(token)}` : ''}`
      const headers = inQuery ? [] : [`x-pixstore-proof: ${image.record.statelessProof}`, `x-pixstore-token: ${token}`]
      const method = pick(['GET', 'GET', 'HEAD'])
      return { bytes: build(method, target, headers), method, lineValid: true, canonical: image, currentToken: token === String(image.record.token) }
    }
    const tmpName = path.basename(canaries[1]!)
    const pieces = [
      image.id, [...image.id].map((c) => `%${c.charCodeAt(0).toString(16)}`).join(''), '..', '%2e%2e', '%2E%2E%2F', '%00', `${image.id}%00`,
      Buffer.from('é😀ß', 'utf8').toString('latin1'), '%ff%fe', '%zz', '%', 'a%', '%2', 'x'.repeat(10240), '/', '//', '.', '%252e%252e', '\\..\\', '%5c', '@:', 'a'.repeat(201),
      `..%2F..%2F${tmpName}`, `../../canary.txt`, `%2Ftmp%2F${tmpName}`, `..%2F..%2F..%2F..%2Fetc%2Fpasswd`, junk(1 + int(8)),
    ]
    const id = Array.from({ length: 1 + int(3) }, () => pick(pieces)).join('')
    const proofs = () => pick(['', junk(1 + int(64)), 'A'.repeat(10240), other.record.statelessProof, image.record.statelessProof, `${image.record.statelessProof} `, word()])
    const query = chance(0.3) ? `?proof=${encodeURIComponent(proofs())}&token=${encodeURIComponent(pick(tokens))}${chance(0.2) ? '&proof=%zz' : ''}` : ''
    const target = pick([
      `/pixstore-image/${id}`, `/pixstore-image/${id}`, `/pixstore-image/${id}`, '/pixstore-image', `//pixstore-image/${id}`,
      `/pixstore-image//${id}`, `/other/${id}`, '/', '*', `/pixstore-imagex/${id}`, `http://x/pixstore-image/${id}`, `/x/../pixstore-image/${id}`,
    ]) + query
    const method = pick(['GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', word(), pick(METHODS.filter((m) => m !== 'CONNECT'))])
    const headers: string[] = []
    const add = (name: string, values: () => string) => {
      if (!chance(0.7)) return
      headers.push(`${name}: ${values()}`)
      if (chance(0.1)) headers.push(`${name}: ${values()}`)
    }
    add('x-pixstore-proof', proofs)
    add('x-pixstore-token', () => pick(tokens))
    if (chance(0.1)) headers.push(pick(['Origin: http://evil.example', 'Content-Length: 0', `X-${word()}: ${junk(20)}`]))
    // A request line Node's parser must accept: a method it knows and a target of visible ASCII.
    return { bytes: build(method, target, headers), method, lineValid: METHODS.includes(method) && /^[\x21-\x7e]+$/.test(target) }
  }

  it('never answers 5xx and serves no image byte without a valid proof, over thousands of random requests', async () => {
    const requests = Array.from({ length: TOTAL }, generate)
    const failures: string[] = []
    const statuses = new Map<number, number>()
    let [dropped, served] = [0, 0]
    const fail = (sent: Sent, why: string) => failures.push(`${why} [seed ${seed}] ${JSON.stringify(sent.bytes.toString('latin1').slice(0, 200))}`)
    const check = (sent: Sent, raw: Buffer, error: string | undefined) => {
      if (raw.length === 0) {
        dropped++
        if (sent.lineValid) fail(sent, `closed with no response (${error ?? 'no error'}) for a valid request line`)
        return
      }
      let answer: Answer
      try {
        answer = parseAnswer(raw, sent.method)
      } catch (e) {
        return fail(sent, `unparseable response: ${(e as Error).message}`)
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
      if (!(answer.status >= 200 && answer.status < 300) && !(answer.status >= 400 && answer.status < 500)) return fail(sent, `status ${answer.status}`)
      if (sent.canonical && answer.status !== 200) return fail(sent, `a valid request got ${answer.status}`)
      if (answer.status !== 200 || sent.method === 'OPTIONS') return
      if (answer.headers.get('content-type') !== 'application/octet-stream') return fail(sent, 'a 200 answer that is not octet-stream')
      if (sent.method === 'HEAD' && answer.body.length > 0) return fail(sent, 'a body in a HEAD answer')
      if (sent.method !== 'GET') return
      let payload: ReturnType<typeof decodePayload>
      try {
        payload = decodePayload(answer.body)
      } catch (e) {
        return fail(sent, `undecodable payload: ${(e as Error).message}`)
      }
      if (payload.state === PayloadState.InternalError) return fail(sent, 'InternalError payload')
      if (sent.canonical && payload.state !== (sent.currentToken ? PayloadState.Success : PayloadState.Updated)) {
        return fail(sent, `a valid request got state ${payload.state}`)
      }
      if (payload.state !== PayloadState.Success && payload.state !== PayloadState.Updated) return
      served++
      const image = images.find((i) => i.ciphertext.equals(payload.ciphertext))
      if (!image) return fail(sent, 'served bytes of no known image')
      if (!sent.bytes.includes(image.record.statelessProof)) return fail(sent, `served "${image.id}" without its proof`)
    }
    const started = Date.now()
    let next = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const sent = requests[next++]!
          const { raw, error } = await sendRaw(port, sent.bytes)
          check(sent, raw, error)
        }
      }),
    )
    console.log(`[endpoint-fuzz] ${TOTAL} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${dropped} closed without answer; ${served} served with a valid proof`)
    expect(failures.slice(0, 20)).toEqual([])
    expect(served).toBeGreaterThan(0)
  }, 60_000)

  it('still serves a valid request afterwards, leaves the canaries untouched and logs no error', async () => {
    const [image] = images
    const { raw } = await sendRaw(port, build('GET', `/pixstore-image/${image!.id}`, [`x-pixstore-proof: ${image!.record.statelessProof}`]))
    const answer = parseAnswer(raw, 'GET')
    expect(answer.status).toBe(200)
    const payload = decodePayload(answer.body)
    expect(payload.state).toBe(PayloadState.Updated)
    if (payload.state !== PayloadState.Updated) return
    const decipher = createDecipheriv('aes-256-gcm', payload.key, payload.iv).setAuthTag(payload.tag)
    const plain = Buffer.concat([decipher.update(payload.ciphertext), decipher.final()])
    expect(plain.subarray(1).equals(fixture(image!.file))).toBe(true)
    for (const canary of canaries) {
      expect(fs.readFileSync(canary, 'utf8')).toBe('canary')
      expect(fs.statSync(canary).mtimeMs).toBe(Date.parse('2020-01-01T00:00:00Z'))
    }
    expect(fs.readdirSync(parent.dir).sort()).toEqual(['canary.txt', 'data'])
    expect(errors.mock.calls).toEqual([])
  })
})
