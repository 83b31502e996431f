import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { PixstoreError } from '../shared/errors.js'
import { createFileOnce, readSecretLines, writeFileAtomic } from './atomic-file.js'
import { findSecrets, type SecretSource } from './secret-source.js'

export type { SecretSource } from './secret-source.js'

/** One line of the proof secret file: a secret, and when a rotation stopped it signing. */
interface SecretLine {
  secret: string
  retiredAt?: number
}

const FILE = 'proof-secret'
const newSecret = () => randomBytes(32).toString('base64url')

/** The path of the proof secret file of a data directory. */
export const proofSecretFile = (dataDir: string) => path.join(dataDir, FILE)

/**
 * Finds the proof secrets: the option, else `PIXSTORE_PROOF_SECRET` (comma-separated),
 * else `dataDir/proof-secret` (one secret a line, the first signs), generated once with
 * owner-only permissions.
 *
 * @throws PixstoreError `INVALID_CONFIG` for a malformed secret or a secret file other users can read.
 */
export function loadProofSecrets(
  configured: readonly string[] | undefined,
  dataDir: string,
): { secrets: readonly string[]; source: SecretSource } {
  const { entries, source } = findSecrets(configured, 'PIXSTORE_PROOF_SECRET', () => {
    const created = createFileOnce(proofSecretFile(dataDir), newSecret() + '\n')
    return { entries: readProofSecretFile(dataDir)!.map((line) => line.secret), source: created ? 'generated' : 'loaded' }
  })
  if (source === 'environment' && (entries.length === 0 || entries.some((s) => s.length < 32))) {
    throw new PixstoreError('INVALID_CONFIG', 'PIXSTORE_PROOF_SECRET must hold secrets of at least 32 characters, comma-separated')
  }
  return { secrets: entries, source }
}

/**
 * Rotates the secret kept in `dataDir/proof-secret`: a new secret signs (running backends
 * pick it up within a second, or at the first proof they cannot verify), and the secrets it
 * replaces keep verifying for `keepRetiredMs` after they stopped signing, so that no proof
 * already handed out is refused early.
 */
export function rotateProofSecretFile(dataDir: string, keepRetiredMs: number, now = Date.now()): void {
  const current = readProofSecretFile(dataDir) ?? []
  const kept = current.flatMap((line, i): SecretLine[] => {
    // A line without a time (the signing one, or one an operator added by hand) stops
    // signing now, as far as this rotation can tell.
    const retiredAt = i === 0 ? now : (line.retiredAt ?? now)
    return retiredAt > now - keepRetiredMs || i === 0 ? [{ secret: line.secret, retiredAt }] : []
  })
  const lines = [{ secret: newSecret() }, ...kept]
  writeFileAtomic(
    proofSecretFile(dataDir),
    lines.map((line) => (line.retiredAt === undefined ? line.secret : `${line.secret} retired:${line.retiredAt}`)).join('\n') + '\n',
  )
}

/**
 * The lines of `dataDir/proof-secret`, the signing secret first, or `undefined` if there is no file.
 *
 * @throws PixstoreError `INVALID_CONFIG` for a malformed file or one other users can read.
 */
export function readProofSecretFile(dataDir: string): SecretLine[] | undefined {
  const file = proofSecretFile(dataDir)
  const lines = readSecretLines(file)?.map((line): SecretLine => {
    const [secret = '', stamp] = line.split(/\s+/)
    const retiredAt = stamp?.startsWith('retired:') ? Number(stamp.slice('retired:'.length)) : undefined
    return retiredAt !== undefined && Number.isFinite(retiredAt) ? { secret, retiredAt } : { secret }
  })
  if (lines === undefined) return undefined
  if (lines.length === 0 || lines.some((line) => line.secret.length < 32)) {
    throw new PixstoreError('INVALID_CONFIG', `The proof secret file ${file} must hold secrets of at least 32 characters, one a line`)
  }
  return lines
}
