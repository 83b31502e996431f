// A writer process for the crash and concurrency tests: it runs image operations one after
// another on a data directory, printing "B op id version" before each and
// "A op id version" once it is acknowledged, until it is killed or has done `count` ops.
// Usage: node writer.mjs <dataDir> <versionsDir> <firstVersion> <seed> <count> <mode: mixed|updates> [inlineImageMaxBytes] [variant widths, comma-separated]
import fs from 'node:fs'
import path from 'node:path'
import { createPixstoreBackend } from 'pixstore/backend'

const [dataDir, versionsDir, first, seedText, countText, mode, inline, widths] = process.argv.slice(2)
const versions = fs.readdirSync(versionsDir).sort()
const bytesOf = (version) => fs.readFileSync(path.join(versionsDir, versions[version % versions.length]))
const ids = ['img-0', 'img-1', 'img-2', 'img-3', 'img-4']

let seed = Number(seedText) >>> 0
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const backend = createPixstoreBackend({
  dataDir,
  ...(inline === undefined ? {} : { inlineImageMaxBytes: Number(inline) }),
  ...(widths ? { variants: { widths: widths.split(',').map(Number), formats: ['webp', 'avif'] } } : {}),
})
const say = (line) => process.stdout.write(line + '\n')
// Loading sharp takes longer than the kill window: loaded before READY, as in a warm app.
if (widths) await import('sharp')
say('READY')

let version = Number(first)
for (let done = 0; done < Number(countText); done++) {
  const id = ids[Math.floor(random() * ids.length)]
  const exists = await backend.imageExists(id)
  const roll = random()
  const op = !exists ? 'save' : mode === 'mixed' && roll < 0.15 ? 'delete' : 'update'
  const v = version++
  say(`B ${op} ${id} ${v}`)
  if (op === 'save') await backend.saveImage(bytesOf(v), { id })
  else if (op === 'update') await backend.updateImage(id, bytesOf(v))
  else await backend.deleteImage(id)
  say(`A ${op} ${id} ${v}`)
}
await backend.close()
