import fs from 'node:fs'
import { PixstoreError } from '../shared/errors.js'
import { createKeyRing, loadMasterKeys, masterKeyFile, parseMasterKeys, readMasterKeyFile, type KeyRing, type MasterKey, type MasterKeySource } from './master-keys.js'
import { createProofSigner, type ProofSigner } from './proof.js'
import { loadProofSecrets, proofSecretFile, readProofSecretFile, type SecretSource } from './secrets.js'
import type { WrappedKey } from './stores/metadata-store.js'

/**
 * The master keys and proof secrets one backend instance holds, kept current while it
 * runs. Keys that live in the data directory are re-read when their file changes: at every
 * `refresh`, and at once when a data key names a master key this instance does not hold or
 * a proof does not verify. So a rotation by the CLI reaches a running process without a
 * restart, and no request fails in between.
 */
export interface InstanceKeys {
  readonly masterKeySource: MasterKeySource
  readonly secretSource: SecretSource
  /** Whether some of the keys come from files that are re-read. */
  readonly reloads: boolean
  /** Ids of the master keys held, the one new data keys are wrapped under first. */
  masterKeyIds(): string[]
  /**
   * The master key new data keys are wrapped under: the first held that no rotation has retired.
   *
   * @throws PixstoreError `KEY_RETIRED` if every key held has been retired.
   */
  wrappingKeyId(): string
  /** Wraps a data key under {@link wrappingKeyId}. */
  wrap(dataKey: Uint8Array, context: string): WrappedKey
  /**
   * Unwraps a data key; re-reads the key file first if it names a key not held.
   *
   * @throws PixstoreError `DECRYPT_FAILED`.
   */
  unwrap(keyId: string, wrappedKey: string, context: string): Buffer
  /** Signs and checks proofs; a proof that does not verify makes it re-read a changed secret file first. */
  readonly signer: ProofSigner
  /** Re-reads the key files that changed. */
  refresh(): void
  /** Takes the retired master key ids as the store gives them: no data key is wrapped under one again. */
  useRetired(retired: readonly string[]): void
}

export interface InstanceKeysOptions {
  dataDir: string
  masterKeys: readonly string[] | undefined
  proofSecrets: readonly string[] | undefined
  proofWindowMs: number
  /** Master key ids stored images use, for the refusal to generate a key where images exist. */
  keyIdsInUse: () => readonly string[]
}

/**
 * Notices when a file is replaced or changed, by a cheap `stat`: `changed()` says whether it
 * differs from what was last read, and `read()` records that it was read. A read that
 * failed is not recorded, so it is tried again.
 */
function fileWatch(file: string) {
  const signature = () => {
    const stat = fs.statSync(file, { throwIfNoEntry: false })
    return stat ? `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}` : 'none'
  }
  let last = signature()
  return {
    changed: () => signature() !== last,
    /** Runs `read` for the file's current version, and records that version once it succeeded. */
    read(action: () => void): void {
      const now = signature()
      action()
      last = now
    },
  }
}

const warnReload = (what: string, error: unknown) =>
  console.warn(`[pixstore] ${what} changed but could not be read; keeping the keys already held: ${(error as Error).message}`)

/** Loads the keys of an instance (see {@link InstanceKeys}). */
export function createInstanceKeys(options: InstanceKeysOptions): InstanceKeys {
  const { dataDir } = options
  const master = loadMasterKeys(options.masterKeys, dataDir, options.keyIdsInUse)
  const proof = loadProofSecrets(options.proofSecrets, dataDir)
  const masterFromFile = master.source === 'loaded' || master.source === 'generated'
  const secretFromFile = proof.source === 'loaded' || proof.source === 'generated'

  let keys: MasterKey[] = master.keys
  let ring: KeyRing = createKeyRing(keys)
  let retired = new Set<string>()
  let signer = createProofSigner(proof.secrets, options.proofWindowMs)
  const masterFile = masterFromFile ? fileWatch(masterKeyFile(dataDir)) : undefined
  const secretFile = secretFromFile ? fileWatch(proofSecretFile(dataDir)) : undefined

  function reloadMasterKeys(): boolean {
    if (!masterFile?.changed()) return false
    try {
      masterFile.read(() => {
        const entries = readMasterKeyFile(dataDir)
        if (!entries) return
        const loaded = parseMasterKeys(entries, masterKeyFile(dataDir))
        // A key that left the file stays held for reading: a running process never forgets
        // a key, so an operator's mistake cannot make an image unreadable before a restart.
        const ids = new Set(loaded.map((k) => k.id))
        keys = [...loaded, ...keys.filter((k) => !ids.has(k.id))]
        ring = createKeyRing(keys)
      })
      return true
    } catch (error) {
      warnReload(masterKeyFile(dataDir), error)
      return false
    }
  }

  function reloadSecrets(): boolean {
    if (!secretFile?.changed()) return false
    try {
      secretFile.read(() => {
        const lines = readProofSecretFile(dataDir)
        if (lines) signer = createProofSigner(lines.map((line) => line.secret), options.proofWindowMs)
      })
      return true
    } catch (error) {
      warnReload(proofSecretFile(dataDir), error)
      return false
    }
  }

  const firstUsable = () => keys.find((k) => !retired.has(k.id))?.id
  const wrappingKeyId = () => {
    const id = firstUsable()
    if (id === undefined) {
      throw new PixstoreError(
        'KEY_RETIRED',
        `Every master key this instance holds (${keys.map((k) => k.id).join(', ')}) has been retired by a key rotation: give it the current key`,
      )
    }
    return id
  }

  return {
    masterKeySource: master.source,
    secretSource: proof.source,
    reloads: masterFromFile || secretFromFile,
    masterKeyIds: () => {
      const first = firstUsable()
      return first === undefined ? keys.map((k) => k.id) : [first, ...keys.map((k) => k.id).filter((id) => id !== first)]
    },
    wrappingKeyId,
    wrap: (dataKey, context) => ring.wrap(wrappingKeyId(), dataKey, context),
    unwrap(keyId, wrappedKey, context) {
      if (!ring.ids.includes(keyId)) reloadMasterKeys()
      return ring.unwrap(keyId, wrappedKey, context)
    },
    signer: {
      sign: (id, now) => signer.sign(id, now),
      verify: (id, proof, now) => signer.verify(id, proof, now) || (reloadSecrets() && signer.verify(id, proof, now)),
    },
    refresh() {
      reloadMasterKeys()
      reloadSecrets()
    },
    useRetired(ids) {
      retired = new Set(ids)
    },
  }
}
