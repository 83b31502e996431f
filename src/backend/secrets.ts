import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { PixstoreError } from '../shared/errors.js'
import { createFileOnce, writeFileAtomic } from './atomic-file.js'

/** Where the proof secrets came from, for the start-up log line. */
export type SecretSource = 'option' | 'environment' | 'generated' | 'loaded'

const FILE = 'proof-secret'
const newSecret = () => randomBytes(32).toString('base64url')

/**
 * Finds the proof secrets: the option, else `PIXSTORE_PROOF_SECRET` (comma-separated),
 * else `dataDir/proof-secret` (one secret a line, the first signs), generated once with
 * owner-only permissions.
 */
export function loadProofSecrets(
  configured: readonly string[] | undefined,
  dataDir: string,
): { secrets: readonly string[]; source: SecretSource } {
  if (configured) return { secrets: configured, source: 'option' }
  const fromEnv = process.env.PIXSTORE_PROOF_SECRET
  if (fromEnv) {
    const secrets = fromEnv.split(',').map((s) => s.trim()).filter(Boolean)
    if (secrets.length === 0 || secrets.some((s) => s.length < 32)) {
      throw new PixstoreError('INVALID_CONFIG', 'PIXSTORE_PROOF_SECRET must hold secrets of at least 32 characters, comma-separated')
    }
    return { secrets, source: 'environment' }
  }
  const file = path.join(dataDir, FILE)
  const created = createFileOnce(file, newSecret() + '\n')
  return { secrets: readSecretFile(file), source: created ? 'generated' : 'loaded' }
}

/**
 * Rotates the secret kept in `dataDir/proof-secret`: a new secret signs from the next
 * start on, and the previous one still verifies until the following rotation.
 */
export function rotateProofSecretFile(dataDir: string): void {
  const file = path.join(dataDir, FILE)
  const current = fs.existsSync(file) ? readSecretFile(file) : []
  writeFileAtomic(file, [newSecret(), ...current.slice(0, 1)].join('\n') + '\n')
}

function readSecretFile(file: string): string[] {
  let secrets: string[]
  try {
    secrets = fs.readFileSync(file, 'utf8').split('\n').map((s) => s.trim()).filter(Boolean)
  } catch (cause) {
    throw new PixstoreError('STORAGE_FAILED', `Could not read the proof secret file ${file}`, { cause })
  }
  if (secrets.length === 0 || secrets.some((s) => s.length < 32)) {
    throw new PixstoreError('INVALID_CONFIG', `The proof secret file ${file} must hold secrets of at least 32 characters, one a line`)
  }
  return secrets
}
