import { requireOption } from '../shared/options.js'

const metadataStoreMethods = ['get', 'commit', 'delete', 'list', 'replaceKey', 'keyIdsInUse', 'retireKeys', 'retiredKeyIds', 'beat', 'forgetInstance', 'liveInstances', 'close']
const blobStoreMethods = ['write', 'read', 'delete', 'close']

const isStore = (store: unknown, methods: string[]) =>
  store === undefined || (typeof store === 'object' && store !== null && methods.every((m) => typeof (store as Record<string, unknown>)[m] === 'function'))

/**
 * Checks the `metadataStore` and `blobStore` options, and the secret policy of shared stores:
 * with a metadata store shared by several instances, every instance must hold the same
 * secrets, so they come from configuration, never from a file one instance generated.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming the option.
 */
export function checkStoreOptions(
  config: { metadataStore?: unknown; blobStore?: unknown },
  secrets: readonly string[] | undefined,
  masterKeys: readonly string[] | undefined,
  where: string,
): void {
  requireOption(
    isStore(config.metadataStore, metadataStoreMethods),
    where,
    'metadataStore',
    'must be a metadata store (createPostgresMetadataStore, or an object implementing MetadataStore)',
  )
  requireOption(isStore(config.blobStore, blobStoreMethods), where, 'blobStore', 'must be a blob store (createS3BlobStore, or an object implementing BlobStore)')
  if (config.metadataStore === undefined) return
  requireOption(
    secrets !== undefined || Boolean(process.env.PIXSTORE_PROOF_SECRET),
    where,
    'statelessProofSecret',
    'is required with a shared metadataStore (or PIXSTORE_PROOF_SECRET)',
  )
  requireOption(masterKeys !== undefined || Boolean(process.env.PIXSTORE_MASTER_KEY), where, 'masterKeys', 'is required with a shared metadataStore (or PIXSTORE_MASTER_KEY)')
}

/**
 * Image files sent by the web server in front of the app (nginx's `X-Accel-Redirect`,
 * Apache's or lighttpd's `X-Sendfile`) instead of through Node: see docs/scaling.md.
 */
export type FileDelivery = { header: 'X-Accel-Redirect'; prefix: string } | { header: 'X-Sendfile' }

/**
 * Checks the `fileDelivery` option.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming what is wrong.
 */
export function resolveFileDelivery(value: unknown, where: string): FileDelivery | undefined {
  if (value === undefined) return undefined
  const given = (typeof value === 'object' && value !== null ? value : {}) as { header?: unknown; prefix?: unknown }
  if (given.header === 'X-Sendfile') return { header: 'X-Sendfile' }
  requireOption(given.header === 'X-Accel-Redirect', where, 'fileDelivery', 'must be { header: "X-Accel-Redirect", prefix } or { header: "X-Sendfile" }')
  const prefix = given.prefix
  requireOption(
    typeof prefix === 'string' && /^\/[\w./-]*\/$/.test(prefix) && !prefix.includes('..'),
    where,
    'fileDelivery.prefix',
    'must be the internal location\'s path, starting and ending with "/" (such as "/pixstore-files/")',
  )
  return { header: 'X-Accel-Redirect', prefix: prefix as string }
}
