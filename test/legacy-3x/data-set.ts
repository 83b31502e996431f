import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PixstoreBackend } from 'pixstore/backend'
import { decryptUpdatedPayload, fixturePath } from '../helpers.js'

const writer = fileURLToPath(new URL('./write-data.mjs', import.meta.url))
const cliPath = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url))

/** One step of a data set written by pixstore 3.2.1: save a file (under a `dir` prefix), or update an image with one. */
export type Step3x = { save: string; dir?: string } | { update: number | string; file: string }

/** PNG, JPEG and WebP images, some under a `dir` prefix, two of them updated (to WebP and to JPEG). */
export const mixedSteps: Step3x[] = [
  { save: fixturePath('sample.png'), dir: 'avatars' },
  { save: fixturePath('sample.jpg'), dir: 'avatars' },
  { save: fixturePath('sample.webp') },
  { save: fixturePath('sample.png'), dir: 'covers' },
  { update: 0, file: fixturePath('sample-lossless.webp') },
  { update: 2, file: fixturePath('sample.jpg') },
]

/** An image pixstore 3.2.1 holds: its id and the file its current version came from. */
export interface Image3x {
  id: string
  file: string
}

/** Runs `steps` through the published pixstore 3.2.1 in `appDir`, with its 3.x `options`. */
export function write3x(appDir: string, steps: Step3x[], options: object): Image3x[] {
  const out = execFileSync(process.execPath, [writer], {
    cwd: appDir,
    env: { ...process.env, PIXSTORE_3X_PLAN: JSON.stringify({ plan: steps, options }) },
    encoding: 'utf8',
  })
  return JSON.parse(out) as Image3x[]
}

/** Every file below `dir` with a hash of its bytes and its modification time: to show that nothing was written. */
export function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    const stat = fs.statSync(file)
    files[path.relative(dir, file)] = `${createHash('sha256').update(fs.readFileSync(file)).digest('hex')} ${stat.mtimeMs}`
  }
  return files
}

/** The result of one CLI run. */
export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `node dist/cli/index.js` in `cwd`; `onStart` gets the child (to kill it). */
export function runCli(args: string[], cwd: string, onStart?: (child: ReturnType<typeof execFile>) => void): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cliPath, ...args], { cwd }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
      resolve({ code, stdout, stderr })
    })
    onStart?.(child)
  })
}

/** The bytes a client gets for `id` from `backend`, decrypted. */
export async function servedBytes(backend: PixstoreBackend, id: string): Promise<Buffer> {
  const record = await backend.getImageRecordAsync(id)
  if (!record) throw new Error(`no image ${id}`)
  return decryptUpdatedPayload(await backend.customEndpointHelper(id, undefined, record.statelessProof))
}
