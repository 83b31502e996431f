import type { ImageFormat } from '../../../shared/image-format.js'
import type { StoredImage } from '../metadata-store.js'

/** A row of the images table, as the SQL stores name its columns. */
export interface ImageRow {
  id: string
  /** A number from SQLite, a string from PostgreSQL (bigint). */
  token: number | string
  key_id: string
  wrapped_key: string
  iv: string
  tag: string
  blob_key: string
  format: ImageFormat
  bytes: number
  width: number
  height: number
  updated_at: number | string
  /** JSON of the variants and sealed placeholder (see `variantsColumn`), or `null`. */
  variants: string | null
}

/**
 * The `variants` column of a version: `{"k":blobKey,"v":[[width,height,format,bytes,salt],...],"p":placeholder}`,
 * or `null`. It names the blob key of the version it belongs to: a column an older Pixstore
 * process kept through an update of the image (it does not know the column) is then ignored.
 */
export function variantsColumn(image: Pick<StoredImage, 'blobKey' | 'variants' | 'placeholder'>): string | null {
  if (!image.variants?.length && image.placeholder === undefined) return null
  return JSON.stringify({ k: image.blobKey, v: (image.variants ?? []).map((v) => [v.width, v.height, v.format, v.bytes, v.salt]), p: image.placeholder })
}

function parseVariants(column: string | null, blobKey: string): Pick<StoredImage, 'variants' | 'placeholder'> {
  if (column === null || column === undefined) return {}
  const parsed = JSON.parse(column) as { k?: string; v: [number, number, ImageFormat, number, string][]; p?: string }
  if (parsed.k !== blobKey) return {}
  const variants = parsed.v.map(([width, height, format, bytes, salt]) => ({ width, height, format, bytes, salt }))
  return { ...(variants.length > 0 ? { variants } : {}), ...(parsed.p !== undefined ? { placeholder: parsed.p } : {}) }
}

/** The stored images of `rows` (in any order) in the order of `ids`, `undefined` where none. */
export function inIdOrder(ids: readonly string[], rows: readonly ImageRow[]): (StoredImage | undefined)[] {
  const byId = new Map(rows.map((row) => [row.id, row]))
  return ids.map((id) => {
    const row = byId.get(id)
    return row && fromRow(row)
  })
}

/** The stored image a row describes. */
export const fromRow = (row: ImageRow): StoredImage => ({
  id: row.id,
  token: Number(row.token),
  keyId: row.key_id,
  wrappedKey: row.wrapped_key,
  iv: row.iv,
  tag: row.tag,
  blobKey: row.blob_key,
  format: row.format,
  bytes: row.bytes,
  width: row.width,
  height: row.height,
  updatedAt: Number(row.updated_at),
  ...parseVariants(row.variants, row.blob_key),
})
