import { createRequire } from 'node:module'
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
    throw missing(name, purpose, cause)
  }
}

const missing = (name: string, purpose: string, cause?: unknown) =>
  new PixstoreError('MISSING_DEPENDENCY', `${purpose} needs the "${name}" package: npm install ${name}`, { cause })

/**
 * Checks, when a store is created (and so at `initPixstoreBackend`), that an optional peer
 * dependency is installed, so that a missing one is reported at start-up rather than by
 * the first request in production. The package itself is still loaded on first use.
 *
 * @throws PixstoreError `MISSING_DEPENDENCY` naming the package to install.
 */
export function assertInstalled(name: string, purpose: string, resolve: (name: string) => string = createRequire(import.meta.url).resolve): void {
  try {
    resolve(name)
  } catch (cause) {
    throw missing(name, purpose, cause)
  }
}
