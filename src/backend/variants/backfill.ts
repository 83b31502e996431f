import { PixstoreError } from '../../shared/errors.js'
import { variantName } from '../../shared/variants.js'
import { decryptImage } from '../encryption.js'
import { everyImage } from '../stores/every-image.js'
import type { BlobStore } from '../stores/blob-store.js'
import type { MetadataStore, StoredImage } from '../stores/metadata-store.js'
import type { StoredBlobs } from '../stores/stored-blobs.js'
import { removeBlobs, writeBlobs } from '../stores/write-blobs.js'
import { blobKeysOf, sealPlaceholder, variantBlobs } from './crypto.js'
import { makeVariants } from './make.js'
import { resolveVariantOptions, type ResolvedVariants, type VariantOptions } from './options.js'

/** Options of `backfillVariants`. */
export interface BackfillOptions {
  /** The variants every image is to have. */
  variants: VariantOptions
  /** Called after each image with the number done so far. */
  onProgress?: (done: number) => void
}

/** What `backfillVariants` did. */
export interface BackfillReport {
  checked: number
  /** Images given the variants they lacked (and a placeholder). */
  made: number
  /** Images that had every variant asked for already (done by an earlier run, or saved with them). */
  alreadyDone: number
  /** Images updated by a writer while their variants were made: the new version has its own. */
  changedMeanwhile: number
  /** Images whose variants could not be made, with the reason; they keep what they had. */
  failed: { id: string; reason: string }[]
}

interface Context {
  metadata: MetadataStore
  /** Where variants are written. */
  blobs: BlobStore
  /** Where originals are read (inline or in the blob store). */
  stored: StoredBlobs
  dataKeyOf(image: StoredImage): Buffer
  imageMaxPixels: number
}

/**
 * Gives every stored image the variants `options` asks for, without a new version: the
 * image, its token and its key stay; variants it lacks are made from it and written, then
 * named in its row only if the row still holds that version. Resumable: an image that has
 * them all is skipped. Variants it has beyond those asked for are kept.
 */
export async function backfillVariants(context: Context, options: BackfillOptions): Promise<BackfillReport> {
  const { metadata, blobs, stored } = context
  if (!metadata.setVariants) throw new PixstoreError('UNSUPPORTED', 'This metadata store cannot add variants to stored images')
  const chosen = resolveVariantOptions(options.variants, 'backfillVariants', 'INVALID_ARGUMENT')
  if (!chosen) throw new PixstoreError('INVALID_ARGUMENT', 'backfillVariants: "variants" must name the variants to make')
  // Named once narrowed: the functions below are hoisted, so they would not see the narrowing.
  const wanted: ResolvedVariants = chosen
  // Whether an image has every variant asked for, told without decoding it where its
  // orientation cannot matter (no width asked for lies between its two sides).
  const surelyDone = (image: StoredImage, have: ReadonlySet<string>) => {
    const [short, long] = [Math.min(image.width, image.height), Math.max(image.width, image.height)]
    if (image.placeholder === undefined || wanted.widths.some((w) => w >= short && w < long)) return false
    const formats = wanted.formats.map((f) => (f === 'original' ? image.format : f))
    return wanted.widths.every((w) => w >= long || formats.every((format) => have.has(variantName({ width: w, format }))))
  }

  const report: BackfillReport = { checked: 0, made: 0, alreadyDone: 0, changedMeanwhile: 0, failed: [] }
  for await (const image of everyImage(metadata)) {
    report.checked++
    try {
      await backfillOne(image)
    } catch (error) {
      report.failed.push({ id: image.id, reason: error instanceof Error ? error.message : String(error) })
    }
    options.onProgress?.(report.checked)
  }
  return report

  async function backfillOne(image: StoredImage): Promise<void> {
    const have = new Set((image.variants ?? []).map(variantName))
    if (surelyDone(image, have)) {
      report.alreadyDone++
      return
    }
    const ciphertext = await stored.read(image.blobKey)
    if (!ciphertext) {
      report.changedMeanwhile++
      return
    }
    const dataKey = context.dataKeyOf(image)
    const plain = decryptImage(ciphertext, dataKey, Buffer.from(image.iv, 'base64'), Buffer.from(image.tag, 'base64'))
    const made = await makeVariants(plain.subarray(1), image.format, wanted, context.imageMaxPixels, have)
    if (made.variants.length === 0 && image.placeholder !== undefined) {
      report.alreadyDone++
      return
    }
    const written = variantBlobs(image.blobKey, dataKey, made.variants)
    await writeBlobs(blobs, written)
    const keys = written.map((blob) => blob.key)
    try {
      const variants = [...(image.variants ?? []), ...made.variants.map(({ variant }) => variant)].sort(
        (a, b) => a.width - b.width || variantName(a).localeCompare(variantName(b)),
      )
      const placeholder = image.placeholder ?? sealPlaceholder(dataKey, made.placeholder)
      if (await metadata.setVariants!(image.id, image.blobKey, variants, placeholder)) {
        report.made++
        return
      }
      report.changedMeanwhile++
    } catch (error) {
      // The row may name them after all (a commit that took effect but reported a failure):
      // only blobs the row is known not to name are removed; unknown, they are left to gc.
      const after = await metadata.get(image.id).then(
        (row) => ({ row }),
        () => undefined,
      )
      if (after) {
        const named = new Set(after.row ? blobKeysOf(after.row) : [])
        await removeBlobs(blobs, keys.filter((key) => !named.has(key)))
      }
      throw error
    }
    await removeBlobs(blobs, keys)
  }
}
