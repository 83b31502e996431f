import path from 'node:path'

// The published pixstore 3.2.1 (the `pixstore-v3` dev dependency), as a baseline in the
// same process. 3.x keeps its settings in module state, so there is one per process.
interface Pixstore3Record {
  id: string
  token: number
  statelessProof: string
}
interface Pixstore3 {
  initPixstoreBackend(config: object): void
  saveImage(bytes: Uint8Array): Promise<Pixstore3Record>
  updateImage(id: string, bytes: Uint8Array): Promise<Pixstore3Record>
  customEndpointHelper(id: string, token: number | undefined, proof: string): Promise<Uint8Array>
}

let opened: Promise<Pixstore3> | undefined

/** pixstore 3.2.1's backend with its data under `root` and proofs that never expire (3.2.1's last 200 ms). */
export function pixstore3(root: string): Promise<Pixstore3> {
  opened ??= (import('pixstore-v3/backend/index.js' as string) as Promise<Pixstore3>).then((v3) => {
    v3.initPixstoreBackend({
      defaultEndpointEnabled: false,
      imageRootDir: path.join(root, 'pixstore3-images'),
      databasePath: path.join(root, 'pixstore3.sqlite'),
      statelessKeyWindowLength: -1,
      errorHandlingMode: 'throw',
    })
    return v3
  })
  return opened
}
