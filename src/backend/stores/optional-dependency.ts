import { PixstoreError } from '../../shared/errors.js'

/**
 * Loads an optional peer dependency of a scale-out store on first use, so that apps on
 * the embedded default never need it.
 *
 * @throws PixstoreError `MISSING_DEPENDENCY` naming the package to install.
 */
export async function loadOptional<T>(name: string, load: () => Promise<T>, purpose: string): Promise<T> {
  try {
    return await load()
  } catch (cause) {
    throw new PixstoreError('MISSING_DEPENDENCY', `${purpose} needs the "${name}" package: npm install ${name}`, { cause })
  }
}
