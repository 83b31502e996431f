import path from 'node:path'
import { defaultFormats, formatsFromList, type FormatTable, type LegacyImageFormat } from '../shared/image-format.js'
import { warnOnce } from '../shared/log.js'
import { requireOption } from '../shared/options.js'

/** The pixstore 3.x backend options Pixstore still takes, so that a 3.x app starts unchanged. */
export interface LegacyBackendOptions {
  /**
   * The pixstore 3.x list of accepted formats, honoured as 3.x did: only the formats listed
   * are accepted, and the entry at index i is the format byte i + 1 inside the encryption
   * (the frontend must be given the same list). Default: png, jpeg, webp, gif and avif, with
   * the bytes of 3.x's default list.
   *
   * @deprecated Kept for pixstore 3.x apps; new apps leave it out.
   */
  imageFormats?: readonly LegacyImageFormat[]
  /**
   * @deprecated pixstore 3.x's images folder. Without `dataDir`, Pixstore keeps its data in
   * `<imageRootDir>/pixstore.data`; the 3.x files are only read, by `pixstore import-3x`.
   */
  imageRootDir?: string
  /**
   * @deprecated pixstore 3.x's database file: only read, to find 3.x images not imported
   * yet (`pixstore import-3x`). Pixstore's own database is `dataDir/pixstore.sqlite`.
   */
  databasePath?: string
}

/** The pixstore 3.x database file and images folder the app names (absolute), if it names them. */
export interface LegacyLocations {
  databasePath?: string
  imageRootDir?: string
}

/** Where Pixstore keeps its data, without `dataDir`, for an app that names its 3.x images folder. */
const legacyDataDirName = 'pixstore.data'

/**
 * What the 3.x options mean here: the data directory they place (when `dataDir` is not
 * given), the format table, and where a 3.x data set may be. Each option warns once.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming the option.
 */
export function resolveLegacyOptions(
  options: LegacyBackendOptions,
  dataDir: string | undefined,
  where: string,
): { dataDir: string | undefined; formats: FormatTable; locations: LegacyLocations } {
  const locations = resolveLegacyLocations(options.imageRootDir, options.databasePath, where)
  if (dataDir === undefined && (locations.imageRootDir ?? locations.databasePath) !== undefined) {
    // Beside the 3.x images (on the volume the app keeps them on), in a folder no 3.x id can name.
    dataDir = path.join(locations.imageRootDir ?? 'pixstore-images', legacyDataDirName)
  }
  for (const name of ['imageRootDir', 'databasePath'] as const) {
    if (options[name] === undefined) continue
    warnOnce(
      `legacy-option:${name}`,
      `${where}: "${name}" is a pixstore 3.x option: Pixstore keeps its images in "dataDir" (here ${path.resolve(dataDir ?? './pixstore-data')}) ` +
        `and only reads ${options[name]} to find 3.x images to import (pixstore import-3x); use "dataDir"`,
    )
  }
  let formats = defaultFormats
  if (options.imageFormats !== undefined) {
    const table = formatsFromList(options.imageFormats, where)
    formats = table.formats
    warnOnce(
      'legacy-option:imageFormats',
      `${where}: "imageFormats" is a pixstore 3.x option, honoured as in 3.x (only those formats, numbered by their place in the list; ` +
        `give the frontend the same list)${table.unstorable.length > 0 ? `; Pixstore cannot store ${table.unstorable.join(', ')}` : ''}. ` +
        "Without it, png, jpeg, webp, gif and avif are accepted with the bytes of 3.x's default list",
    )
  }
  return { dataDir, formats, locations }
}

function resolveLegacyLocations(imageRootDir: unknown, databasePath: unknown, where: string): LegacyLocations {
  for (const [name, value] of [['imageRootDir', imageRootDir], ['databasePath', databasePath]] as const) {
    requireOption(value === undefined || (typeof value === 'string' && value.trim().length > 0), where, name, 'must be a non-empty path')
  }
  return {
    databasePath: databasePath === undefined ? undefined : path.resolve(databasePath as string),
    imageRootDir: imageRootDir === undefined ? undefined : path.resolve(imageRootDir as string),
  }
}
