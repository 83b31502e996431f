import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { PixstoreError } from '../shared/errors.js'

/** Where the proof secrets came from, for the start-up log line. */
export type SecretSource = 'option' | 'environment' | 'generated' | 'loaded'

/**
 * Finds the proof secrets: the option, else `PIXSTORE_PROOF_SECRET` (comma-separated),
 * else `dataDir/proof-secret`, generated once with owner-only permissions.
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
  const file = path.join(dataDir, 'proof-secret')
  if (fs.existsSync(file)) return { secrets: [readSecretFile(file)], source: 'loaded' }
  // Written whole under a temporary name, then linked into place: link fails if another
  // process got there first, and then that process's secret is used, so every process
  // sharing the folder ends up with the same secret and none reads a half-written file.
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`
  try {
    fs.writeFileSync(temporary, randomBytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 })
    try {
      fs.linkSync(temporary, file)
      return { secrets: [readSecretFile(file)], source: 'generated' }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      return { secrets: [readSecretFile(file)], source: 'loaded' }
    }
  } catch (error) {
    throw error instanceof PixstoreError ? error : storageError(file, error)
  } finally {
    fs.rmSync(temporary, { force: true })
  }
}

function readSecretFile(file: string): string {
  let secret: string
  try {
    secret = fs.readFileSync(file, 'utf8').trim()
  } catch (error) {
    throw storageError(file, error)
  }
  if (secret.length < 32) throw new PixstoreError('INVALID_CONFIG', `The proof secret in ${file} is shorter than 32 characters`)
  return secret
}

function storageError(file: string, cause: unknown): PixstoreError {
  return new PixstoreError('STORAGE_FAILED', `Could not create or read the proof secret file ${file}`, { cause })
}
