import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, createWebHandler, type PixstoreBackendConfig } from 'pixstore/backend'
import { getImage, initPixstoreFrontend } from 'pixstore/frontend'
import type { ImageRecord } from 'pixstore/types'
import { fixture, tempDir, uniqueDbName } from '../helpers.js'

// Every secret Pixstore holds, in every spelling it might be printed in.
const spellings = (bytes: Buffer) => [bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')]

describe('secrets and keys in logs and error messages', () => {
  const data = tempDir()
  afterAll(() => data.remove())

  it('never appear in anything Pixstore logs or reports, across failing operations of every kind', async () => {
    const proofSecret = randomBytes(32).toString('base64url')
    const masterKey = randomBytes(32)
    const otherKey = randomBytes(32)
    const options: PixstoreBackendConfig = {
      dataDir: data.dir,
      statelessProofSecret: proofSecret,
      masterKeys: `main:${masterKey.toString('base64')}`,
      statelessKeyWindowLength: 50,
    }
    const said: string[] = []
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void said.push(args.map(String).join(' ')))
    }
    const note = (error: unknown) => {
      if (error instanceof Error) said.push(`${error.name} ${error.message} ${String((error as { cause?: unknown }).cause ?? '')}`)
    }
    const records: ImageRecord[] = []
    try {
      const backend = createPixstoreBackend(options)
      for (const name of ['sample.png', 'sample.jpg', 'sample.webp']) records.push((await backend.saveImage(fixture(name)))!)
      // Bad input of every kind, with the reasons collected.
      for (const bad of [new Uint8Array(0), randomBytes(500), Buffer.from('<svg/>')]) {
        await backend.saveImage(bad).catch(note)
      }
      await backend.updateImage('../x', fixture('sample.png')).catch(note)
      // The image route with missing, forged and expired proofs, and bad tokens.
      const handler = createWebHandler(backend)
      for (const headers of [{} as Record<string, string>, { 'x-pixstore-proof': 'x'.repeat(43) }, { 'x-pixstore-proof': records[0]!.statelessProof, 'x-pixstore-token': 'NaN' }]) {
        await handler(new Request(`http://localhost/pixstore-image/${records[0]!.id}`, { headers }))
      }
      await new Promise((resolve) => setTimeout(resolve, 120))
      // Decryption failures in the frontend: expired proof, forged meta, tampered payload.
      initPixstoreFrontend({ indexedDbName: uniqueDbName(), onError: note }, (record) => backend.customEndpointHelper(record.id, record.token, record.statelessProof))
      await getImage(records[0]!)
      const fresh = backend.getImageRecord(records[1]!.id)!
      await getImage({ ...fresh, meta: { ...fresh.meta, tag: Buffer.alloc(16).toString('base64') } })
      // Configuration mistakes that hold key material.
      for (const config of [
        { ...options, statelessProofSecret: proofSecret.slice(0, 20) },
        { ...options, masterKeys: `bad id:${masterKey.toString('base64')}` },
        { ...options, masterKeys: `short:${masterKey.subarray(0, 16).toString('base64')}` },
      ]) {
        try {
          createPixstoreBackend(config)
        } catch (error) {
          note(error)
        }
      }
      await backend.close()
      // The data read with the wrong master key.
      const wrong = createPixstoreBackend({ ...options, masterKeys: `main:${otherKey.toString('base64')}` })
      try {
        wrong.getImageRecord(records[2]!.id)
      } catch (error) {
        note(error)
      }
      said.push(JSON.stringify(await wrong.verify()))
      await wrong.close()
    } finally {
      vi.restoreAllMocks()
    }

    expect(said.length).toBeGreaterThan(10)
    const text = said.join('\n')
    const secrets = [
      ...spellings(Buffer.from(proofSecret)),
      proofSecret,
      ...spellings(masterKey),
      ...spellings(otherKey),
      ...records.flatMap((r) => spellings(Buffer.from(r.meta.key, 'base64'))),
    ]
    for (const secret of secrets) expect(text).not.toContain(secret)
    // Nothing shaped like a raw 256-bit key either.
    expect(text).not.toMatch(/[A-Za-z0-9+/]{43}=/)
    expect(fs.existsSync(path.join(data.dir, 'master-keys'))).toBe(false)
  })
})
