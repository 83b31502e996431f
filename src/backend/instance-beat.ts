import { randomBytes } from 'node:crypto'
import os from 'node:os'
import type { InstanceKeys } from './instance-keys.js'
import type { InstanceInfo, MetadataStore } from './stores/metadata-store.js'

/** How often a running instance records itself and re-reads changed key files. */
export const BEAT_INTERVAL_MS = 1000
/**
 * An instance not heard from for this long is taken for gone. Far above the interval, so
 * that a busy event loop or a slow database does not make a live process look dead.
 */
export const LIVE_WITHIN_MS = 10_000

/** The heartbeat of one backend instance. */
export interface InstanceBeat {
  /** This instance's id in the store. */
  readonly id: string
  /** Takes the retired keys from the store, re-reads changed key files and records this instance now. */
  beatNow(): Promise<void>
  /** Stops beating and removes this instance's record. */
  stop(): Promise<void>
}

/**
 * Records the instance in the metadata store every {@link BEAT_INTERVAL_MS}, with the
 * master keys it holds, so that key rotation can tell whether every live process can read
 * data keys wrapped under a new key before it rewraps anything.
 */
export function startInstanceBeat(metadata: MetadataStore, keys: InstanceKeys, proofWindowMs: number): InstanceBeat {
  const id = `${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`
  let failing = false
  let running: Promise<void> | undefined
  let stopped = false

  const info = (): InstanceInfo => ({
    id,
    host: os.hostname(),
    pid: process.pid,
    masterKeyIds: keys.masterKeyIds(),
    reloadsKeys: keys.reloads,
    proofWindowMs,
  })

  async function beat(): Promise<void> {
    try {
      // Key files first: a database that is away must not keep a process on old keys.
      keys.refresh()
      keys.useRetired(await metadata.retiredKeyIds())
      if (stopped) return
      await metadata.beat(info())
      if (failing) console.warn('[pixstore] recording this instance in the metadata store works again')
      failing = false
    } catch (error) {
      // A database that is briefly away must not flood the log: one line per outage.
      if (!failing) console.warn(`[pixstore] could not record this instance in the metadata store: ${(error as Error).message}`)
      failing = true
    }
  }
  const beatNow = () => (running ??= beat().finally(() => (running = undefined)))

  void beatNow()
  const timer = setInterval(() => void beatNow(), BEAT_INTERVAL_MS)
  timer.unref()

  return {
    id,
    beatNow: async () => {
      await running
      await beatNow()
    },
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
      await Promise.resolve()
        .then(() => metadata.forgetInstance(id))
        .catch(() => undefined)
    },
  }
}
