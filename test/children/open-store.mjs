// Opens the embedded store of DATA_DIR when the parent says go (so that several processes
// open it at the same moment), saves one image, and exits.
import { createPixstoreBackend } from 'pixstore/backend'

process.once('message', async ({ dataDir, id, image }) => {
  const backend = createPixstoreBackend({ dataDir })
  await backend.saveImage(Buffer.from(image, 'base64'), { id })
  await backend.close()
  process.disconnect()
})
process.send('ready')
