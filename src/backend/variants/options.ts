import { PixstoreError } from '../../shared/errors.js'
import { ownProperties, rejectUnknownOptions } from '../../shared/options.js'

/** A format variants are made in: WebP, AVIF, or the original's own format. */
export type VariantFormat = 'webp' | 'avif' | 'original'

/**
 * Which smaller copies of every image to make at save time (option `variants` of the
 * backend, of `saveImage` and of `updateImage`). Each width is made in each format, never
 * wider than the image itself.
 *
 * @example
 * { widths: [160, 320, 640, 1280], formats: ['avif', 'webp'] }
 */
export interface VariantOptions {
  /** Widths in pixels, from 16 to 8192. */
  widths: readonly number[]
  /** Output formats, each made at every width. Default `['webp']`. */
  formats?: readonly VariantFormat[]
}

/** Variant options checked, sorted and without repeats. */
export interface ResolvedVariants {
  widths: readonly number[]
  formats: readonly VariantFormat[]
}

const formatNames: readonly VariantFormat[] = ['webp', 'avif', 'original']

/** Most variants one image gets: widths × formats. */
export const MAX_VARIANTS = 16

/**
 * Checks variant options. `false` (per call) makes none; `undefined` means "not given".
 *
 * @throws PixstoreError `code` (`INVALID_CONFIG` for the backend option, `INVALID_ARGUMENT`
 * for a call's) naming what is wrong.
 */
export function resolveVariantOptions(
  given: unknown,
  where: string,
  code: 'INVALID_CONFIG' | 'INVALID_ARGUMENT',
): ResolvedVariants | false | undefined {
  if (given === undefined || given === false) return given
  const fail = (reason: string) => new PixstoreError(code, `${where}: "variants" ${reason}`)
  if (typeof given !== 'object' || given === null) throw fail('must be { widths, formats? } or false')
  const options = ownProperties(given as VariantOptions)
  rejectUnknownOptions(options, ['widths', 'formats'], `${where} "variants"`, code)
  const { widths, formats = ['webp'] } = options
  if (!Array.isArray(widths) || widths.length === 0 || !widths.every((w) => Number.isInteger(w) && w >= 16 && w <= 8192)) {
    throw fail('.widths must be a non-empty list of whole numbers of pixels from 16 to 8192')
  }
  if (!Array.isArray(formats) || formats.length === 0 || !formats.every((f) => formatNames.includes(f as VariantFormat))) {
    throw fail(`.formats must be a non-empty list of ${formatNames.map((f) => `"${f}"`).join(', ')}`)
  }
  const resolved = { widths: [...new Set(widths)].sort((a, b) => a - b), formats: [...new Set(formats)] }
  if (resolved.widths.length * resolved.formats.length > MAX_VARIANTS) throw fail(`make at most ${MAX_VARIANTS} variants (widths × formats)`)
  return resolved
}
