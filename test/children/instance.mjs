// One backend instance for the multi-process tests, with the built-in endpoint on a free
// port and commands from the parent test over IPC. Settings come in PIXSTORE_INSTANCE
// (JSON): { dataDir } for the embedded store, or { pgUrl, schema, s3 } for PostgreSQL and
// S3; secrets come from the environment or, on the embedded store, from the data directory.
import {
  closePixstoreBackend,
  createPostgresMetadataStore,
  createS3BlobStore,
  getImageRecordAsync,
  initPixstoreBackend,
  saveImage,
  updateImage,
} from 'pixstore/backend'

const settings = JSON.parse(process.env.PIXSTORE_INSTANCE)
const stores = settings.dataDir
  ? { dataDir: settings.dataDir }
  : {
      metadataStore: createPostgresMetadataStore({ connectionString: settings.pgUrl, schema: settings.schema }),
      blobStore: createS3BlobStore(settings.s3),
    }
const { backend, endpoint } = initPixstoreBackend({ ...stores, defaultEndpointListenPort: 0, errorHandlingMode: 'throw' })
const { port } = await endpoint

const commands = {
  save: ({ id, image }) => saveImage(Buffer.from(image, 'base64'), { id }),
  update: ({ id, image }) => updateImage(id, Buffer.from(image, 'base64')),
  record: ({ id }) => getImageRecordAsync(id),
  verify: () => backend.verify(),
  close: async () => {
    await closePixstoreBackend()
    setImmediate(() => process.exit(0))
    return true
  },
}

process.on('message', async ({ seq, command, args }) => {
  try {
    process.send({ seq, result: await commands[command](args) })
  } catch (error) {
    process.send({ seq, error: { code: error.code, message: error.message } })
  }
})
process.send({ ready: true, port })
