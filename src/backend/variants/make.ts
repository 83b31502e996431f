import type SharpModule from 'sharp'
import type { Sharp } from 'sharp'
import { rgbaToThumbHash } from 'thumbhash'
import { PixstoreError } from '../../shared/errors.js'
import type { ImageFormat } from '../../shared/image-format.js'
import { variantName, type ImageVariant } from '../../shared/variants.js'
import { assertInstalled, loadOptional } from '../stores/optional-dependency.js'
import { newSalt } from './crypto.js'
import type { ResolvedVariants, VariantFormat } from './options.js'

const PURPOSE = 'The option "variants" (image variants)'

/** Checks, at start-up, that sharp is installed when variants are configured. @throws PixstoreError `MISSING_DEPENDENCY` */
export const assertSharpInstalled = (): void => assertInstalled('sharp', PURPOSE)

let loaded: Promise<typeof SharpModule> | undefined
/** sharp, loaded on first use. @throws PixstoreError `MISSING_DEPENDENCY` */
export function loadSharp(): Promise<typeof SharpModule> {
  loaded ??= loadOptional('sharp', async () => (await import('sharp')).default, PURPOSE).catch((error: unknown) => {
    loaded = undefined
    throw error
  })
  return loaded
}

/** A variant made from an image: what the record lists, and its plain bytes. */
export interface MadeVariant {
  variant: ImageVariant
  image: Buffer
}

/** The variants of one image and its ThumbHash placeholder. */
export interface MadeVariants {
  variants: MadeVariant[]
  placeholder: Uint8Array
}

// Quality settings that keep a variant visually close to its original at a fraction of its
// bytes; AVIF and WebP at a low effort, since they are made on the save path (at these
// qualities, higher efforts took 2 to 3 times as long for files at most 1% smaller).
function encode(pipeline: Sharp, format: ImageFormat): Sharp {
  switch (format) {
    case 'avif':
      return pipeline.avif({ quality: 50, effort: 0 })
    case 'webp':
      return pipeline.webp({ quality: 80, effort: 2 })
    case 'jpeg':
      return pipeline.jpeg({ quality: 80, mozjpeg: true })
    case 'png':
      return pipeline.png({ compressionLevel: 8, palette: false })
    case 'gif':
      return pipeline.gif()
  }
}

const outputFormat = (format: VariantFormat, original: ImageFormat): ImageFormat => (format === 'original' ? original : format)

/**
 * Makes the variants `options` asks for from a checked image, and its placeholder. Every
 * output is the right way up (EXIF orientation applied) and carries no metadata. No width
 * at or above the image's own is made, and an animated image gets no variants (a still
 * frame would not stand in for it), only its placeholder.
 *
 * @throws PixstoreError `INVALID_IMAGE` when the pixels cannot be decoded,
 * `MISSING_DEPENDENCY` without sharp.
 */
export async function makeVariants(
  input: Uint8Array,
  original: ImageFormat,
  options: ResolvedVariants,
  maxPixels: number,
  /** Names of variants not to make (the image has them already). */
  except: ReadonlySet<string> = new Set(),
): Promise<MadeVariants> {
  const sharp = await loadSharp()
  const source = () => sharp(input, { failOn: 'error', limitInputPixels: maxPixels, autoOrient: true })
  try {
    const meta = await source().metadata()
    const width = meta.autoOrient.width
    const animated = (meta.pages ?? 1) > 1
    const wanted: { width: number; format: ImageFormat }[] = []
    const seen = new Set<string>()
    for (const w of animated ? [] : options.widths.filter((w) => w < width)) {
      for (const format of options.formats) {
        const target = { width: w, format: outputFormat(format, original) }
        if (seen.has(variantName(target)) || except.has(variantName(target))) continue
        seen.add(variantName(target))
        wanted.push(target)
      }
    }
    // The image is decoded once, at the largest size needed (JPEG and WebP decode straight to
    // a fraction of their size), and every output is made from those pixels, side by side.
    const base = await source()
      .resize({ width: Math.max(Math.min(width, 100), ...wanted.map((target) => target.width)), withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true })
    const pixels = () => sharp(base.data, { raw: { width: base.info.width, height: base.info.height, channels: base.info.channels } })
    const [thumb, ...made] = await Promise.all([
      pixels().resize(100, 100, { fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true }),
      ...wanted.map((target) => encode(pixels().resize({ width: target.width }), target.format).toBuffer({ resolveWithObject: true })),
    ])
    return {
      placeholder: rgbaToThumbHash(thumb.info.width, thumb.info.height, thumb.data),
      variants: made.map(({ data, info }, i) => ({
        variant: { width: wanted[i]!.width, height: info.height, format: wanted[i]!.format, bytes: data.byteLength, salt: newSalt() },
        image: data,
      })),
    }
  } catch (cause) {
    if (cause instanceof PixstoreError) throw cause
    throw new PixstoreError('INVALID_IMAGE', 'The image could not be decoded to make its variants', { cause })
  }
}
