import type { FormatTable, ImageFormat } from '../shared/image-format.js'
import { decryptImage } from './encryption.js'
import { LIVE_WITHIN_MS, type InstanceBeat } from './instance-beat.js'
import type { InstanceKeys } from './instance-keys.js'
import { dataKeyContext } from './master-keys.js'
import type { StoredBlobs } from './stores/stored-blobs.js'
import { everyImage, readCurrentBlob } from './stores/every-image.js'
import type { MetadataStore, SeenInstance, StoredImage } from './stores/metadata-store.js'
import { PixstoreError } from '../shared/errors.js'
import { variantName } from '../shared/variants.js'
import { blobKeysOf, decryptVariant, variantBlobKey } from './variants/crypto.js'

/** What `verify` found. */
export interface VerifyReport {
  checked: number
  ok: number
  /** Each problem found; `variant` names the variant (`<width>.<format>`) when it is one of the image's variants. */
  failures: VerifyFailure[]
}

/** One problem `verify` found with an image or one of its variants. */
export interface VerifyFailure {
  id: string
  problem: 'missing-file' | 'key-unavailable' | 'decrypt-failed' | 'format-mismatch'
  variant?: string
}

/** Options of `gc`. */
export interface GcOptions {
  /**
   * Only remove unreferenced files older than this, in ms. Default 15 minutes: a file a
   * running writer has just written is not referenced until its metadata commits.
   */
  olderThanMs?: number
  /** Report what would be removed without removing it. */
  dryRun?: boolean
}

/** What `gc` did. */
export interface GcReport {
  /** Blobs looked at. */
  scanned: number
  /** Keys of the unreferenced blobs removed (or that would be, in a dry run). */
  removed: string[]
  /** Unreferenced blobs left alone because they are younger than `olderThanMs`. */
  tooYoung: number
}

/** Options of `rotateMasterKey`. */
export interface RotateOptions {
  /** Called with the number of images checked so far. */
  onProgress?: (done: number) => void
  /**
   * How long to wait for every live instance to hold the current key (running instances
   * that read their keys from the data directory pick a new one up within a second). Default 15 s.
   */
  waitMs?: number
}

/** What `rotateMasterKey` did. */
export interface RotationReport {
  currentKeyId: string
  /**
   * Live instances that do not hold the current key: while there are any, nothing is
   * retired or rewrapped (they could not read what was rewrapped). Give them the key and
   * restart them, then rotate again.
   */
  notReady: SeenInstance[]
  /** Master keys retired by this rotation or an earlier one: no process wraps under them any more. */
  retired: string[]
  checked: number
  rewrapped: number
  /** Rows updated by a writer meanwhile: they already have a key under the current master key. */
  changedMeanwhile: number
  /** Ids of rows whose key no configured master key unwraps: left as they are. */
  unavailable: string[]
  /** Master keys some row still uses once the rotation is done: only these, and the current one, must be kept. */
  stillInUse: string[]
}

/** What the store holds. */
export interface StoreStats {
  images: number
  /** Total size of the images themselves, not encrypted. */
  bytes: number
  /** Blob count and total size, where the blob store can list them. */
  blobs?: { count: number; bytes: number }
  byFormat: Partial<Record<ImageFormat, number>>
  oldest?: { id: string; updatedAt: number }
  newest?: { id: string; updatedAt: number }
}

interface Context {
  metadata: MetadataStore
  blobs: StoredBlobs
  keys: InstanceKeys
  beat: InstanceBeat
  dataKeyOf(image: StoredImage): Buffer
  formats: FormatTable
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))


/** The maintenance operations of a backend: verify, gc, key rotation, stats. */
export function createMaintenance({ metadata, blobs, keys, beat, dataKeyOf, formats }: Context) {
  // The problems of one image, its variants included.
  async function check(image: StoredImage): Promise<Omit<VerifyFailure, 'id'>[]> {
    // The row listed may have been replaced since: the current one is checked, with every
    // blob it names read while it is current.
    const readAll = async (row: StoredImage) => {
      const ciphertext = await blobs.read(row.blobKey)
      if (!ciphertext) return undefined
      const variants = await Promise.all((row.variants ?? []).map((variant) => blobs.read(variantBlobKey(row.blobKey, variant))))
      if (variants.includes(undefined) && (await metadata.get(row.id))?.blobKey !== row.blobKey) return undefined
      return { ciphertext, variants }
    }
    let found: Awaited<ReturnType<typeof readCurrentBlob<Awaited<ReturnType<typeof readAll>>>>>
    try {
      found = await readCurrentBlob(metadata, image.id, readAll, image)
    } catch {
      return [{ problem: 'missing-file' }]
    }
    if (!found?.value) return []
    const { image: current, value } = found
    let key: Buffer
    try {
      key = dataKeyOf(current)
    } catch {
      return [{ problem: 'key-unavailable' }]
    }
    const problems: Omit<VerifyFailure, 'id'>[] = []
    try {
      const plain = decryptImage(value.ciphertext, key, Buffer.from(current.iv, 'base64'), Buffer.from(current.tag, 'base64'))
      if (formats.fromByte(plain[0]!) !== current.format) problems.push({ problem: 'format-mismatch' })
    } catch {
      problems.push({ problem: 'decrypt-failed' })
    }
    current.variants?.forEach((variant, i) => {
      const sealed = value.variants[i]
      const name = variantName(variant)
      if (!sealed) return problems.push({ problem: 'missing-file', variant: name })
      try {
        if (decryptVariant(key, variant, sealed).byteLength !== variant.bytes) problems.push({ problem: 'format-mismatch', variant: name })
      } catch {
        problems.push({ problem: 'decrypt-failed', variant: name })
      }
    })
    return problems
  }

  return {
    async verify(onProgress?: (done: number) => void): Promise<VerifyReport> {
      const report: VerifyReport = { checked: 0, ok: 0, failures: [] }
      for await (const image of everyImage(metadata)) {
        const problems = await check(image)
        report.checked++
        for (const problem of problems) report.failures.push({ id: image.id, ...problem })
        if (problems.length === 0) report.ok++
        onProgress?.(report.checked)
      }
      return report
    },

    async gc({ olderThanMs = 15 * 60_000, dryRun = false }: GcOptions = {}): Promise<GcReport> {
      // A bad age would make every unreferenced blob look old, a writer's uncommitted one too.
      if (typeof olderThanMs !== 'number' || !Number.isFinite(olderThanMs) || olderThanMs < 0) {
        throw new PixstoreError('INVALID_ARGUMENT', 'gc: olderThanMs must be a number of milliseconds, 0 or more')
      }
      if (typeof dryRun !== 'boolean') throw new PixstoreError('INVALID_ARGUMENT', 'gc: dryRun must be true or false')
      if (!blobs.list) throw new PixstoreError('UNSUPPORTED', 'This blob store cannot list its blobs, so gc cannot find orphans')
      const referencedKeys = async () => {
        const keys = new Set<string>()
        for await (const image of everyImage(metadata)) for (const key of blobKeysOf(image)) keys.add(key)
        return keys
      }
      const referenced = await referencedKeys()
      const report: GcReport = { scanned: 0, removed: [], tooYoung: 0 }
      const cutoff = Date.now() - olderThanMs
      const candidates: string[] = []
      for await (const blob of blobs.list()) {
        report.scanned++
        if (referenced.has(blob.key)) continue
        if (blob.modifiedAt > cutoff) report.tooYoung++
        else candidates.push(blob.key)
      }
      // A row committed during the scan may point at a candidate after all: look once more.
      const now = candidates.length > 0 ? await referencedKeys() : referenced
      for (const key of candidates) {
        if (now.has(key)) continue
        if (!dryRun) await blobs.delete(key)
        report.removed.push(key)
      }
      return report
    },

    liveInstances: () => metadata.liveInstances(LIVE_WITHIN_MS),

    async rotateMasterKey({ onProgress, waitMs = 15_000 }: RotateOptions = {}): Promise<RotationReport> {
      await beat.beatNow()
      const current = keys.wrappingKeyId()
      const report: RotationReport = {
        currentKeyId: current,
        notReady: [],
        retired: [],
        checked: 0,
        rewrapped: 0,
        changedMeanwhile: 0,
        unavailable: [],
        stillInUse: [],
      }
      // 1. Every live process must hold the current key before any data key is wrapped
      // under it, or its reads of those images would fail.
      const deadline = Date.now() + waitMs
      let live: SeenInstance[]
      for (;;) {
        live = (await metadata.liveInstances(LIVE_WITHIN_MS)).filter((instance) => instance.id !== beat.id)
        report.notReady = live.filter((instance) => !instance.masterKeyIds.includes(current))
        if (report.notReady.length === 0) break
        if (Date.now() >= deadline) return report
        await sleep(200)
      }
      // 2. Retire every other key, in the store, so that no process (this one, another
      // one, one that was slow to notice) commits a data key wrapped under one again.
      const others = new Set([...keys.masterKeyIds(), ...(await metadata.keyIdsInUse()), ...live.flatMap((i) => i.masterKeyIds)])
      others.delete(current)
      await metadata.retireKeys([...others])
      report.retired = await metadata.retiredKeyIds()
      keys.useRetired(report.retired)
      // 3. Rewrap what is left under an older key.
      for await (const image of everyImage(metadata)) {
        report.checked++
        if (image.keyId !== current) {
          let dataKey: Buffer
          try {
            dataKey = dataKeyOf(image)
          } catch {
            report.unavailable.push(image.id)
            continue
          }
          const to = keys.wrap(dataKey, dataKeyContext(image.id, image.blobKey))
          if (await metadata.replaceKey(image.id, image.blobKey, image, to)) report.rewrapped++
          else report.changedMeanwhile++
        }
        onProgress?.(report.checked)
      }
      // 4. What still needs an old key: only rows no held key unwraps, since no new row
      // can name a retired key.
      report.stillInUse = (await metadata.keyIdsInUse()).filter((id) => id !== current)
      return report
    },

    async stats(): Promise<StoreStats> {
      const stats: StoreStats = { images: 0, bytes: 0, byFormat: {} }
      for await (const image of everyImage(metadata)) {
        stats.images++
        stats.bytes += image.bytes
        stats.byFormat[image.format] = (stats.byFormat[image.format] ?? 0) + 1
        if (!stats.oldest || image.updatedAt < stats.oldest.updatedAt) stats.oldest = { id: image.id, updatedAt: image.updatedAt }
        if (!stats.newest || image.updatedAt > stats.newest.updatedAt) stats.newest = { id: image.id, updatedAt: image.updatedAt }
      }
      if (blobs.list) {
        stats.blobs = { count: 0, bytes: 0 }
        for await (const blob of blobs.list()) {
          stats.blobs.count++
          stats.blobs.bytes += blob.size
        }
      }
      return stats
    },
  }
}
