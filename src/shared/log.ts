// Shared code is compiled without DOM or Node types, so the console is reached through
// globalThis; every runtime Pixstore supports has one.
const output = (globalThis as { console?: { warn(message: string): void } }).console

/** Writes a warning line prefixed `[pixstore]`. Never pass key material or secrets. */
export function warn(message: string): void {
  output?.warn(`[pixstore] ${message}`)
}

const warned = new Set<string>()

/** Writes a warning once per process (or page) for each `key`. */
export function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return
  warned.add(key)
  warn(message)
}
