// Writes a data set with the published pixstore 3.2.1 (the pixstore-v3 dev dependency),
// run with the app's folder as its working directory. PIXSTORE_3X_PLAN (JSON) lists the
// steps: { save: <file>, dir?: <prefix> }, or { update: <index of a save of this run, or an
// id>, file }.
// Prints, as JSON, the id of each saved image and the file its current version came from.
import fs from 'node:fs'
import { initPixstoreBackend, saveImage, updateImage } from 'pixstore-v3/backend/index.js'

const { plan, options } = JSON.parse(process.env.PIXSTORE_3X_PLAN)
initPixstoreBackend({ defaultEndpointEnabled: false, errorHandlingMode: 'throw', ...options })
const saved = []
for (const step of plan) {
  if ('save' in step) {
    const record = await saveImage(fs.readFileSync(step.save), step.dir)
    saved.push({ id: record.id, file: step.save })
  } else {
    // 3.x tokens are the write time in ms: a later write must get a later token.
    await new Promise((resolve) => setTimeout(resolve, 2))
    const target = typeof step.update === 'number' ? saved[step.update] : { id: step.update }
    await updateImage(target.id, fs.readFileSync(step.file))
    target.file = step.file
    if (typeof step.update !== 'number') saved.push(target)
  }
}
process.stdout.write(JSON.stringify(saved))
process.exit(0)
