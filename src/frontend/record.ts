import { fromBase64 } from '../shared/base64.js'
import { PixstoreError } from '../shared/errors.js'
import { MAX_ID_LENGTH, isValidId } from '../shared/ids.js'
import { ownProperties } from '../shared/options.js'
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH } from '../shared/wire.js'
import { VARIANT_SALT_LENGTH, parseVariantName, type ImageVariant } from '../shared/variants.js'
import type { ImageRecord } from '../types/index.js'
import type { DecryptionMeta } from './decrypt.js'

const invalid = (what: string) => new PixstoreError('INVALID_RECORD', `The image record is invalid: ${what}`)

/**
 * Checks an `ImageRecord` received from an app's API and decodes its meta.
 *
 * @throws PixstoreError `INVALID_RECORD`
 */
export function parseRecord(record: unknown): { record: ImageRecord; meta: DecryptionMeta } {
  if (typeof record !== 'object' || record === null) throw invalid('it is not an object')
  const r = ownProperties(record as Partial<ImageRecord>)
  if (typeof r.id !== 'string' || r.id.length === 0) throw invalid('"id" must be a non-empty string')
  // Checked before any request: an id such as ".." would put the proof into another URL.
  if (!isValidId(r.id)) throw invalid(`"id" must be 1 to ${MAX_ID_LENGTH} characters of letters, digits and _ - . : @, without ".."`)
  if (typeof r.token !== 'number' || !Number.isSafeInteger(r.token) || r.token < 0) throw invalid('"token" must be a whole number')
  if (typeof r.statelessProof !== 'string') throw invalid('"statelessProof" must be a string')
  if (typeof r.meta !== 'object' || r.meta === null) throw invalid('"meta" is missing')
  const m = ownProperties(r.meta)
  const key = fromBase64(String(m.key))
  const iv = fromBase64(String(m.iv))
  const tag = fromBase64(String(m.tag))
  if (key?.length !== KEY_LENGTH || iv?.length !== IV_LENGTH || tag?.length !== TAG_LENGTH) {
    throw invalid('"meta" must hold a 32-byte key, a 12-byte IV and a 16-byte tag in base64')
  }
  if (r.variants !== undefined && !(Array.isArray(r.variants) && r.variants.every(isVariant))) {
    throw invalid('"variants" must be a list of { width, height, format, bytes }')
  }
  if (r.placeholder !== undefined && typeof r.placeholder !== 'string') throw invalid('"placeholder" must be a base64 string')
  return { record: record as ImageRecord, meta: { key, iv, tag } }
}

const isSize = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value > 0

function isVariant(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const v = ownProperties(value as ImageVariant)
  return (
    isSize(v.width) &&
    isSize(v.height) &&
    isSize(v.bytes) &&
    parseVariantName(`${v.width}.${v.format}`) !== undefined &&
    fromBase64(String(v.salt))?.length === VARIANT_SALT_LENGTH
  )
}
