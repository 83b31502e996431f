/** Where secrets (proof secrets, master keys) came from: the option, the environment, or a file in the data directory (made now, or loaded). */
export type SecretSource = 'option' | 'environment' | 'generated' | 'loaded'

/**
 * Secrets from the option, else from the environment variable `envName` (comma-separated),
 * else from `fromFile`, in that order: the one rule both the proof secret and the master
 * keys follow.
 */
export function findSecrets(
  configured: readonly string[] | undefined,
  envName: string,
  fromFile: () => { entries: readonly string[]; source: 'generated' | 'loaded' },
): { entries: readonly string[]; source: SecretSource } {
  if (configured) return { entries: configured, source: 'option' }
  const fromEnv = process.env[envName]
  if (fromEnv) return { entries: fromEnv.split(',').map((s) => s.trim()).filter(Boolean), source: 'environment' }
  return fromFile()
}
