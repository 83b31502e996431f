import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import path from 'node:path'
import { PixstoreError } from '../shared/errors.js'
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH } from '../shared/wire.js'
import { createFileOnce, readSecretLines, writeFileAtomic } from './atomic-file.js'
import { findSecrets, type SecretSource } from './secret-source.js'

/** A master key: wraps the per-image data keys. */
export interface MasterKey {
  id: string
  key: Buffer
}

/** Where the master keys came from. */
export type MasterKeySource = SecretSource

/**
 * A set of master keys. Every one unwraps; which one wraps is the caller's choice (the
 * first that key rotation has not retired), so a rotated-out key stays usable for reading
 * until `rotateMasterKey` has rewrapped everything.
 */
export interface KeyRing {
  readonly ids: readonly string[]
  /** Wraps a data key under the master key `keyId`, bound to `context` (the image and version). */
  wrap(keyId: string, dataKey: Uint8Array, context: string): { keyId: string; wrappedKey: string }
  /**
   * Unwraps a data key.
   *
   * @throws PixstoreError `DECRYPT_FAILED` if the key id is unknown or the wrapped key does not authenticate.
   */
  unwrap(keyId: string, wrappedKey: string, context: string): Buffer
}

const idPattern = /^[A-Za-z0-9_-]{1,40}$/
const FILE = 'master-keys'

/** Parses `id:base64key` entries (a 32-byte key each). */
export function parseMasterKeys(entries: readonly string[], where: string): MasterKey[] {
  const keys = entries.map((entry) => {
    const at = entry.indexOf(':')
    const id = entry.slice(0, at)
    const key = Buffer.from(entry.slice(at + 1), 'base64')
    if (at < 1 || !idPattern.test(id) || key.length !== KEY_LENGTH) {
      // The entry itself is never quoted: it is key material.
      throw new PixstoreError('INVALID_CONFIG', `${where}: each master key must be "id:base64" with a 32-byte key and an id of letters, digits, _ or -`)
    }
    return { id, key }
  })
  if (keys.length === 0) throw new PixstoreError('INVALID_CONFIG', `${where}: no master key given`)
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new PixstoreError('INVALID_CONFIG', `${where}: master key ids must be unique`)
  return keys
}

/** What a wrapped data key is bound to: its image and version, so that rows cannot swap keys. */
export const dataKeyContext = (id: string, blobKey: string) => `pixstore-data-key\n${id}\n${blobKey}`

/** A new master key entry, `id:base64`, with an id that tells when it was made. */
export function generateMasterKeyEntry(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '')
  return `k${day}-${randomBytes(3).toString('hex')}:${randomBytes(KEY_LENGTH).toString('base64')}`
}

/** The path of the master key file of a data directory. */
export const masterKeyFile = (dataDir: string) => path.join(dataDir, FILE)

/**
 * Reads the master keys kept in the data directory, if any.
 *
 * @throws PixstoreError `INVALID_CONFIG` if the file can be read by group or others.
 */
export function readMasterKeyFile(dataDir: string): string[] | undefined {
  return readSecretLines(masterKeyFile(dataDir))
}

/** Writes the master keys kept in the data directory (owner-only), whole or not at all. */
export function writeMasterKeyFile(dataDir: string, entries: readonly string[]): void {
  writeFileAtomic(masterKeyFile(dataDir), entries.join('\n') + '\n')
}

/**
 * Finds the master keys: the option, else `PIXSTORE_MASTER_KEY` (comma-separated), else
 * `dataDir/master-keys`, generated once with owner-only permissions.
 */
export function loadMasterKeys(
  configured: readonly string[] | undefined,
  dataDir: string,
  keyIdsInUse: () => readonly string[] = () => [],
): { keys: MasterKey[]; source: MasterKeySource } {
  const file = masterKeyFile(dataDir)
  const { entries, source } = findSecrets(configured, 'PIXSTORE_MASTER_KEY', () => {
    const existing = readMasterKeyFile(dataDir)
    if (existing) return { entries: existing, source: 'loaded' }
    // A fresh key for a store that already holds images would leave them unreadable and
    // wrap new ones under a key nobody meant to keep: the missing key must be supplied.
    const inUse = keyIdsInUse()
    if (inUse.length > 0) {
      throw new PixstoreError(
        'INVALID_CONFIG',
        `${dataDir} holds images wrapped under master key(s) ${inUse.join(', ')}, but no master key is configured: ` +
          'give masterKeys or PIXSTORE_MASTER_KEY, or restore the master-keys file',
      )
    }
    const created = createFileOnce(file, generateMasterKeyEntry() + '\n')
    if (created) {
      console.warn(
        `[pixstore] Generated a master key in ${file}. In production, supply PIXSTORE_MASTER_KEY ` +
          'and keep it apart from backups of the data directory: whoever has both can decrypt every image.',
      )
    }
    return { entries: readMasterKeyFile(dataDir)!, source: created ? 'generated' : 'loaded' }
  })
  const where = { option: 'masterKeys', environment: 'PIXSTORE_MASTER_KEY', generated: file, loaded: file }[source]
  return { keys: parseMasterKeys(entries, where), source }
}

/** A key ring over `keys`. */
export function createKeyRing(keys: readonly MasterKey[]): KeyRing {
  const byId = new Map(keys.map((k) => [k.id, k.key]))
  const failed = (cause?: unknown) => new PixstoreError('DECRYPT_FAILED', 'An image key could not be unwrapped', { cause })
  return {
    ids: keys.map((k) => k.id),
    wrap(keyId, dataKey, context) {
      const key = byId.get(keyId)
      if (!key) throw new PixstoreError('INTERNAL', `Master key "${keyId}" is not held`)
      const iv = randomBytes(IV_LENGTH)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(Buffer.from(context))
      const sealed = Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()])
      return { keyId, wrappedKey: sealed.toString('base64') }
    },
    unwrap(keyId, wrappedKey, context) {
      const key = byId.get(keyId)
      if (!key) throw new PixstoreError('DECRYPT_FAILED', `Master key "${keyId}" is not configured`)
      const sealed = Buffer.from(wrappedKey, 'base64')
      if (sealed.length !== IV_LENGTH + KEY_LENGTH + TAG_LENGTH) throw failed()
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_LENGTH))
        decipher.setAAD(Buffer.from(context))
        decipher.setAuthTag(sealed.subarray(IV_LENGTH + KEY_LENGTH))
        return Buffer.concat([decipher.update(sealed.subarray(IV_LENGTH, IV_LENGTH + KEY_LENGTH)), decipher.final()])
      } catch (cause) {
        throw failed(cause)
      }
    },
  }
}
