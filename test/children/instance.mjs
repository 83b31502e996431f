// One backend instance for the scale-out test: PostgreSQL metadata and S3 blobs, the
// built-in endpoint on a free port, and commands from the parent test over IPC.
// Settings come in PIXSTORE_INSTANCE (JSON): { pgUrl, schema, s3 }; secrets in the environment.
import {
  createPostgresMetadataStore,
  createS3BlobStore,
  getImageRecordAsync,
  initPixstoreBackend,
  saveImage,
  updateImage,
} from 'pixstore/backend'

const settings = JSON.parse(process.env.PIXSTORE_INSTANCE)
const { backend, endpoint } = initPixstoreBackend({
  metadataStore: createPostgresMetadataStore({ connectionString: settings.pgUrl, schema: settings.schema }),
  blobStore: createS3BlobStore(settings.s3),
  defaultEndpointListenPort: 0,
  errorHandlingMode: 'throw',
})
const { port } = await endpoint

const commands = {
  save: ({ id, image }) => saveImage(Buffer.from(image, 'base64'), { id }),
  update: ({ id, image }) => updateImage(id, Buffer.from(image, 'base64')),
  record: ({ id }) => getImageRecordAsync(id),
  verify: () => backend.verify(),
}

process.on('message', async ({ seq, command, args }) => {
  try {
    process.send({ seq, result: await commands[command](args) })
  } catch (error) {
    process.send({ seq, error: { code: error.code, message: error.message } })
  }
})
process.send({ ready: true, port })
