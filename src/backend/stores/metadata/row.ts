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

/** The `variants` column of a version: `{"v":[[width,height,format,bytes],...],"p":placeholder}`, or `null`. */
export function variantsColumn(image: Pick<StoredImage, 'variants' | 'placeholder'>): string | null {
  if (!image.variants?.length && image.placeholder === undefined) return null
  return JSON.stringify({ v: (image.variants ?? []).map((v) => [v.width, v.height, v.format, v.bytes]), p: image.placeholder })
}

function parseVariants(column: string | null): Pick<StoredImage, 'variants' | 'placeholder'> {
  if (column === null || column === undefined) return {}
  const parsed = JSON.parse(column) as { v: [number, number, ImageFormat, number][]; p?: string }
  const variants = parsed.v.map(([width, height, format, bytes]) => ({ width, height, format, bytes }))
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
  ...parseVariants(row.variants),
})
