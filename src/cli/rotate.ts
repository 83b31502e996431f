import path from 'node:path'
import { withFileLock } from '../backend/file-lock.js'
import { generateMasterKeyEntry, parseMasterKeys, readMasterKeyFile, writeMasterKeyFile } from '../backend/master-keys.js'
import type { PixstoreBackend } from '../backend/pixstore-backend.js'
import { rotateProofSecretFile } from '../backend/secrets.js'
import type { SeenInstance } from '../backend/stores/metadata-store.js'
import { createProgress } from './progress.js'

/** How a command prints: JSON with --json, else the text. */
export type Print = (json: unknown, text: string) => void

/** One line about a running backend process. */
export function describeInstance(instance: SeenInstance): string {
  return `pid ${instance.pid} on ${instance.host}: master keys ${instance.masterKeyIds.join(', ')}` + (instance.reloadsKeys ? ' (re-reads the data directory)' : '')
}

const idOf = (entry: string) => entry.slice(0, entry.indexOf(':'))

/**
 * `pixstore rotate-master-key` on an open backend. With its keys in the data directory
 * (`dataDir` given), the whole run holds `rotation.lock` there: a new key goes first in
 * `master-keys` (this backend, like every running one, re-reads the file), the backend
 * rotates to it, and only keys that are retired and that no row uses leave the file. Keys
 * from the environment are only reported on.
 */
export async function rotateMasterKeyCommand(backend: PixstoreBackend, dataDir: string | undefined, waitMs: number, print: Print): Promise<number> {
  const run = async () => {
    if (dataDir) writeMasterKeyFile(dataDir, [generateMasterKeyEntry(), ...(readMasterKeyFile(dataDir) ?? [])])
    const total = (await backend.getStats()).images
    const progress = createProgress('rewrap', total)
    const report = await backend.rotateMasterKey({ onProgress: (done) => progress.update(done), waitMs })
    if (report.notReady.length > 0) {
      print(
        report,
        `Nothing was retired or rewrapped: ${report.notReady.length} running process(es) do not hold master key "${report.currentKeyId}" ` +
          `and could not read images rewrapped under it:\n` +
          report.notReady.map((i) => `  ${describeInstance(i)}`).join('\n') +
          (dataDir
            ? `\n"${report.currentKeyId}" stays first in ${path.join(dataDir, 'master-keys')}: never remove it. Restart those processes, then run this again.`
            : `\nGive them the key (PIXSTORE_MASTER_KEY="<old keys>,${report.currentKeyId}:…"), restart them, and run this again.`),
      )
      return 1
    }
    progress.done(report.checked)
    const verified = await backend.verify()
    // A retired key gains no row, so a key that is retired and unused now stays unused:
    // only such keys leave the file. Any other key (one this run does not know) stays.
    const removable = new Set(report.retired.filter((id) => id !== report.currentKeyId && !report.stillInUse.includes(id)))
    let listed: string[] = []
    if (dataDir) {
      const keep = (readMasterKeyFile(dataDir) ?? []).filter((entry) => !removable.has(idOf(entry)))
      if (!keep.some((entry) => idOf(entry) === report.currentKeyId)) throw new Error(`master key "${report.currentKeyId}" is missing from the key file`)
      parseMasterKeys(keep, 'the new master-keys file')
      writeMasterKeyFile(dataDir, keep)
      listed = keep.map(idOf).filter((id) => id !== report.currentKeyId)
    }
    const advice =
      report.stillInUse.length > 0
        ? `kept master key(s) ${report.stillInUse.join(', ')}: ${report.unavailable.length} image key(s) still need them and could not be unwrapped here`
        : dataDir
          ? listed.length > 0
            ? `the old keys were removed from the data directory; ${listed.join(', ')} stayed (not retired by this rotation)`
            : 'the old keys were removed from the data directory'
          : removable.size > 0
            ? `no image needs ${[...removable].join(', ')} any more: remove them from PIXSTORE_MASTER_KEY of every process`
            : 'no other master key is needed'
    print(
      { ...report, verifyFailures: verified.failures },
      `${report.rewrapped} keys rewrapped under "${report.currentKeyId}" (${report.checked} images, ${report.changedMeanwhile} updated meanwhile); ${advice}`,
    )
    return verified.failures.length > 0 || report.stillInUse.length > 0 ? 1 : 0
  }
  return dataDir ? withFileLock(path.join(dataDir, 'rotation.lock'), 'pixstore rotate-master-key', run) : run()
}

/**
 * `pixstore rotate-proof-secret` on the secret file of `dataDir`, holding `rotation.lock`:
 * a secret that stops signing keeps verifying for two windows of the longest proof window
 * any live process uses (at least the backend's own), plus a margin.
 */
export async function rotateProofSecretCommand(backend: PixstoreBackend, dataDir: string, print: Print): Promise<number> {
  return withFileLock(path.join(dataDir, 'rotation.lock'), 'A pixstore key rotation', async () => {
    const windows = (await backend.liveInstances()).map((i) => i.proofWindowMs)
    const keepMs = windows.includes(-1) ? Infinity : 2 * Math.max(backend.config.statelessKeyWindowLength, ...windows) + 5_000
    rotateProofSecretFile(dataDir, keepMs)
    print(
      { rotated: true, keepRetiredMs: keepMs === Infinity ? null : keepMs },
      'New proof secret in place: running backends sign with it within a second; proofs signed with the previous ' +
        (keepMs === Infinity ? 'secrets stay valid (proofs never expire here)' : `secret stay valid for ${Math.round(keepMs / 1000)} s`),
    )
    return 0
  })
}
