import { PixstoreError } from './errors.js'

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

/**
 * Refuses option names that `known` does not list, naming the closest valid option.
 *
 * @throws PixstoreError `code` (default `INVALID_CONFIG`)
 */
export function rejectUnknownOptions(
  options: object,
  known: readonly string[],
  where: string,
  code: 'INVALID_CONFIG' | 'INVALID_ARGUMENT' = 'INVALID_CONFIG',
): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    let best = known[0] ?? ''
    for (const candidate of known) if (editDistance(name, candidate) < editDistance(name, best)) best = candidate
    throw new PixstoreError(code, `${where}: unknown option "${name}". Did you mean "${best}"?`)
  }
}

/** Throws `INVALID_CONFIG` naming `option` unless `ok`. */
export function requireOption(ok: boolean, where: string, option: string, expectation: string): void {
  if (!ok) throw new PixstoreError('INVALID_CONFIG', `${where}: option "${option}" ${expectation}`)
}

/**
 * A copy of `value`'s own enumerable properties on an object with no prototype. Options and
 * arguments are read from this copy only, so that a property planted on `Object.prototype`
 * (by a prototype-pollution bug anywhere in the app) never becomes a secret, a store or an id.
 */
export function ownProperties<T extends object>(value: T): T
export function ownProperties<T extends object>(value: T | undefined): T | undefined
export function ownProperties<T extends object>(value: T | undefined): T | undefined {
  if (value === undefined || value === null || typeof value !== 'object') return value
  const copy = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(value)) copy[key] = (value as Record<string, unknown>)[key]
  return copy as T
}

/** Whether `route` is a path of plain segments, such as `/pixstore-image` or `/api/images`: the image route's shape on both sides. */
export function isValidRoute(route: unknown): route is string {
  return typeof route === 'string' && /^(\/[A-Za-z0-9._~-]+)+$/.test(route)
}
