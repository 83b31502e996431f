import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { expect } from 'vitest'
import { decodePayload } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'

/** A backend process started by a test (test/children/instance.mjs), driven over IPC. */
export interface Instance {
  port: number
  call<T>(command: string, args?: object): Promise<T>
  child: ChildProcess
  /** Closes the backend (its stores and heartbeat) and waits for the process to exit. */
  stop(): Promise<void>
}

/** Starts one backend process; `settings` is `{ dataDir }` or `{ pgUrl, schema, s3 }`. */
export async function startInstance(settings: object, env: NodeJS.ProcessEnv): Promise<Instance> {
  const child = fork(path.resolve('test/children/instance.mjs'), { env: { ...env, PIXSTORE_INSTANCE: JSON.stringify(settings) }, stdio: 'inherit' })
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  let seq = 0
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}`)))
    child.on('message', (message: { ready?: boolean; port?: number; seq?: number; result?: unknown; error?: { code: string; message: string } }) => {
      if (message.ready) return resolve(message.port!)
      const pending = waiting.get(message.seq!)
      waiting.delete(message.seq!)
      if (message.error) pending?.reject(Object.assign(new Error(message.error.message), { code: message.error.code }))
      else pending?.resolve(message.result)
    })
  })
  child.on('exit', (code) => {
    for (const pending of waiting.values()) pending.reject(new Error(`instance exited with ${code}`))
    waiting.clear()
  })
  return {
    port,
    child,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      if (child.exitCode === null && child.connected) child.send({ seq: 0, command: 'close', args: {} }, (error) => error && child.kill())
      await exited
    },
    call: <T>(command: string, args: object = {}) =>
      new Promise<T>((resolve, reject) => {
        waiting.set(++seq, { resolve: resolve as (v: unknown) => void, reject })
        child.send({ seq, command, args })
      }),
  }
}

/** Fetches a payload from an instance's endpoint, as the browser would. */
export async function fetchPayload(instance: Instance, record: ImageRecord, token: number | undefined) {
  const headers: Record<string, string> = { 'x-pixstore-proof': record.statelessProof }
  if (token !== undefined) headers['x-pixstore-token'] = String(token)
  const response = await fetch(`http://127.0.0.1:${instance.port}/pixstore-image/${encodeURIComponent(record.id)}`, { headers })
  expect(response.status).toBe(200)
  return decodePayload(new Uint8Array(await response.arrayBuffer()))
}

