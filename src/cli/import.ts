import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { isPixstoreError } from '../shared/errors.js'
import { readImageFileWithin } from '../backend/image-file.js'
import type { PixstoreBackend } from '../backend/pixstore-backend.js'

const imageExtensions = /\.(png|jpe?g|webp|gif|avif)$/i

/** What `pixstore import` did with each entry of the folder. */
export interface ImportReport {
  imported: { file: string; id: string }[]
  /** Files whose content an earlier run (or an earlier file of this one) imported already. */
  alreadyImported: { file: string; id: string }[]
  /** Entries not read at all, and why. */
  skipped: { file: string; reason: string }[]
  failed: { file: string; code: string; message: string }[]
}

/**
 * The entries of `folder` to import, and those skipped with the reason: sub-folders, names
 * without an image extension, anything but a regular file (FIFOs would block the read,
 * devices never end), and symbolic links that lead out of the folder.
 */
export function planImport(folder: string): { files: string[]; skipped: ImportReport['skipped'] } {
  const inside = fs.realpathSync(folder)
  const files: string[] = []
  const skipped: ImportReport['skipped'] = []
  const entries = fs.readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const entry of entries) {
    const file = path.join(folder, entry.name)
    const skip = (reason: string) => skipped.push({ file, reason })
    if (entry.isDirectory()) skip('a folder: sub-folders are not imported')
    else if (!imageExtensions.test(entry.name)) skip('not an image file name (.png, .jpg, .jpeg, .webp, .gif, .avif)')
    else if (entry.isSymbolicLink()) {
      let target: string
      try {
        target = fs.realpathSync(file)
      } catch {
        skip('a symbolic link to nothing')
        continue
      }
      if (path.dirname(target) !== inside) skip('a symbolic link out of the folder')
      else if (!fs.statSync(target).isFile()) skip('not a regular file')
      else files.push(file)
    } else if (!entry.isFile()) skip('not a regular file (a FIFO, a device or a socket)')
    else files.push(file)
  }
  return { files, skipped }
}

/**
 * The id an imported image gets: derived from its content, so that importing the same
 * folder twice finds what it imported before instead of saving it again.
 */
export function importedImageId(bytes: Uint8Array, dir: string | undefined): string {
  const digest = createHash('sha256').update('pixstore-import\n').update(bytes).digest('base64url').slice(0, 22)
  return dir === undefined ? digest : `${dir}:${digest}`
}

/** Imports `files` one by one, reporting progress after each. */
export async function importFiles(
  backend: PixstoreBackend,
  files: readonly string[],
  dir: string | undefined,
  onProgress: (done: number) => void,
): Promise<Omit<ImportReport, 'skipped'>> {
  const report: Omit<ImportReport, 'skipped'> = { imported: [], alreadyImported: [], failed: [] }
  for (const [i, file] of files.entries()) {
    try {
      const bytes = await readImageFileWithin(file, backend.config.imageMaxBytes)
      const id = importedImageId(bytes, dir)
      if (await backend.imageExists(id)) report.alreadyImported.push({ file, id })
      else {
        await backend.saveImage(bytes, { id })
        report.imported.push({ file, id })
      }
    } catch (error) {
      if (isPixstoreError(error) && error.code === 'ALREADY_EXISTS') {
        report.alreadyImported.push({ file, id: importedImageId(await fs.promises.readFile(file), dir) })
      } else {
        const code = isPixstoreError(error) ? error.code : 'INTERNAL'
        report.failed.push({ file, code, message: error instanceof Error ? error.message : String(error) })
      }
    }
    onProgress(i + 1)
  }
  return report
}

/** A file name as it may be printed to a terminal: control characters and backslashes escaped. */
export function printable(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g, (c) =>
    c === '\\' ? '\\\\' : c.charCodeAt(0) <= 0xff ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16)}`,
  )
}
