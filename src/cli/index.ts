#!/usr/bin/env node
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { isPixstoreError } from '../shared/errors.js'
import type { PixstoreBackendConfig } from '../backend/config.js'
import type { VariantFormat } from '../backend/variants/options.js'
import { legacyCandidates, markImported, type LegacyDataSet } from '../backend/legacy-3x.js'
import { openBackend, type PixstoreBackend } from '../backend/pixstore-backend.js'
import { createS3BlobStore } from '../backend/stores/blob/s3.js'
import { createPostgresMetadataStore } from '../backend/stores/metadata/postgres.js'
import { importFiles, planImport, printable } from './import.js'
import { importLegacy, LEGACY_MAX_IMAGE_BYTES } from './import-3x.js'
import { migrate } from './migrate.js'
import { describeInstance, rotateMasterKeyCommand, rotateProofSecretCommand } from './rotate.js'
import { help } from './help.js'
import { createProgress } from './progress.js'
import { variantsCommand } from './variants.js'


class UsageError extends Error {}

const commands = ['import', 'import-3x', 'variants', 'verify', 'gc', 'rotate-master-key', 'rotate-proof-secret', 'stats', 'instances', 'migrate', 'help']

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      dir: { type: 'string' },
      'older-than': { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      from: { type: 'string' },
      to: { type: 'string' },
      'pg-schema': { type: 'string' },
      'pg-table-prefix': { type: 'string' },
      's3-bucket': { type: 'string' },
      's3-endpoint': { type: 'string' },
      's3-region': { type: 'string' },
      's3-prefix': { type: 'string' },
      's3-path-style': { type: 'boolean' },
      'pg-url': { type: 'string' },
      wait: { type: 'string' },
      database: { type: 'string' },
      images: { type: 'string' },
      'image-formats': { type: 'string' },
      'allow-failed': { type: 'boolean' },
      widths: { type: 'string' },
      formats: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  })
  const [command, ...rest] = positionals
  if (values.version) {
    console.log(packageVersion())
    return 0
  }
  if (values.help || !command || command === 'help') {
    console.log(help)
    return command || values.help ? 0 : 2
  }
  if (!commands.includes(command)) throw new UsageError(`Unknown command "${command}". Run pixstore --help`)
  const dataDir = path.resolve(values['data-dir'] ?? process.env.PIXSTORE_DATA_DIR ?? 'pixstore-data')
  const print = (json: unknown, text: string) => console.log(values.json ? JSON.stringify(json, null, 2) : text)
  if (command === 'migrate') return runMigration(values, print)
  const pgUrl = values['pg-url']
  if (pgUrl === undefined && !command.startsWith('import') && !fs.existsSync(path.join(dataDir, 'pixstore.sqlite'))) {
    throw new UsageError(`No Pixstore data in ${dataDir} (use --data-dir, or --pg-url for PostgreSQL)`)
  }
  const open = (extra: PixstoreBackendConfig = {}, legacyCheck = true) =>
    openBackend(
      { ...(pgUrl === undefined ? { dataDir } : { metadataStore: postgresStore(values, pgUrl), blobStore: s3Store(values) }), ...extra },
      'pixstore',
      { legacyCheck },
    )

  switch (command) {
    case 'import': {
      const folder = rest[0]
      if (!folder) throw new UsageError('import needs a folder: pixstore import <folder>')
      if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${printable(folder)} is not a folder`)
      const { files, skipped } = planImport(folder)
      return withBackend(open(), async (backend) => {
        const progress = createProgress('import', files.length)
        const report = await importFiles(backend, files, values.dir, (done) => progress.update(done))
        progress.done(files.length)
        const line = (file: string, what: string) => `${printable(file)}\t${what}`
        print(
          { ...report, skipped },
          [
            ...report.imported.map((r) => line(r.file, r.id)),
            ...report.alreadyImported.map((r) => line(r.file, `ALREADY IMPORTED as ${r.id}`)),
            ...skipped.map((s) => line(s.file, `SKIPPED: ${s.reason}`)),
            ...report.failed.map((f) => line(f.file, `FAILED ${f.code}: ${printable(f.message)}`)),
            `${report.imported.length} imported, ${report.alreadyImported.length} already imported, ${skipped.length} skipped, ${report.failed.length} failed`,
          ].join('\n'),
        )
        return report.failed.length > 0 ? 1 : 0
      })
    }
    case 'import-3x': {
      const set = legacySource(values)
      const imageFormats = text(values, 'image-formats')?.split(',').map((name) => name.trim()) as PixstoreBackendConfig['imageFormats']
      // The 3.x bytes are kept exactly: no metadata removed, and no limit 3.x did not have.
      const backend = open({ keepMetadata: true, imageMaxBytes: LEGACY_MAX_IMAGE_BYTES, imageMaxPixels: Number.MAX_SAFE_INTEGER, imageFormats }, false)
      return withBackend(backend, async () => {
        const progress = createProgress('import-3x', undefined)
        const report = await importLegacy(set, backend, (done, total) => progress.update(done, total))
        progress.done(report.source, report.source)
        // The app starts beside the 3.x data once a run has copied everything (or the operator accepted what failed).
        const complete = report.failed.length === 0 || values['allow-failed'] === true
        if (complete && pgUrl === undefined) markImported(dataDir, { database: set.databasePath, images: set.imageRootDir, ...report, failed: report.failed.length })
        print(
          report,
          [
            ...report.failed.map((f) => `${printable(f.id)}\tFAILED: ${printable(f.reason)}`),
            `${report.source} images in ${printable(set.databasePath)}: ${report.copied.length} copied, ` +
              `${report.updated.length} copied again (changed in 3.x since), ${report.alreadyThere} already there, ${report.failed.length} failed`,
            ...(complete
              ? []
              : ['The app will not start beside these 3.x images until a run copies them all: fix what failed, or run again with --allow-failed to start without those']),
          ].join('\n'),
        )
        return report.failed.length > 0 ? 1 : 0
      })
    }
    case 'variants': {
      if (values.widths === undefined) throw new UsageError('variants needs --widths, for example --widths 160,320,640,1280')
      const widths = values.widths.split(',').map(Number)
      const formats = (values.formats ?? 'webp').split(',') as VariantFormat[]
      return withBackend(open(), (backend) => variantsCommand(backend, { widths, formats }, print))
    }
    case 'verify':
      return withBackend(open(), async (backend) => {
        const total = (await backend.getStats()).images
        const progress = createProgress('verify', total)
        const report = await backend.verify((done) => progress.update(done))
        progress.done(report.checked)
        print(
          report,
          [...report.failures.map((f) => `${f.id}${f.variant ? ` (variant ${f.variant})` : ""}\t${f.problem}`), `${report.checked} checked, ${report.ok} ok, ${report.failures.length} failed`].join(
            '\n',
          ),
        )
        return report.failures.length > 0 ? 1 : 0
      })
    case 'gc': {
      const minutes = values['older-than'] === undefined ? 15 : Number(values['older-than'])
      if (!Number.isFinite(minutes) || minutes < 0) throw new UsageError('--older-than takes a number of minutes')
      return withBackend(open(), async (backend) => {
        const report = await backend.gc({ olderThanMs: minutes * 60_000, dryRun: values['dry-run'] === true })
        print(
          report,
          `${report.scanned} files scanned, ${report.removed.length} orphans ${values['dry-run'] ? 'would be ' : ''}removed, ` +
            `${report.tooYoung} orphans younger than ${minutes} min kept`,
        )
        return 0
      })
    }
    case 'rotate-master-key': {
      const waitSeconds = values.wait === undefined ? 15 : Number(values.wait)
      if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new UsageError('--wait takes a number of seconds')
      return withBackend(open(), (backend) => {
        const fromFile = pgUrl === undefined && (backend.masterKeySource === 'loaded' || backend.masterKeySource === 'generated')
        return rotateMasterKeyCommand(backend, fromFile ? dataDir : undefined, waitSeconds * 1000, print)
      })
    }
    case 'rotate-proof-secret':
      return withBackend(open(), async (backend) => {
        if (backend.secretSource !== 'loaded' && backend.secretSource !== 'generated') {
          throw new UsageError(
            'The proof secret comes from PIXSTORE_PROOF_SECRET: rotate it there (add the new secret after the old one everywhere, then put it first, then remove the old one)',
          )
        }
        return rotateProofSecretCommand(backend, dataDir, print)
      })
    case 'instances':
      return withBackend(open(), async (backend) => {
        const self = process.pid
        const live = (await backend.liveInstances()).filter((i) => !(i.pid === self && i.host === os.hostname()))
        print(live, live.length === 0 ? 'No running backend process' : live.map(describeInstance).join('\n'))
        return 0
      })
    case 'stats':
      return withBackend(open(), async (backend) => {
        const stats = await backend.getStats()
        const when = (at?: { id: string; updatedAt: number }) => (at ? `${new Date(at.updatedAt).toISOString()} (${at.id})` : '-')
        print(
          stats,
          [
            `images: ${stats.images}`,
            `image bytes: ${stats.bytes}`,
            stats.blobs ? `encrypted files: ${stats.blobs.count} (${stats.blobs.bytes} bytes)` : undefined,
            `formats: ${Object.entries(stats.byFormat).map(([format, count]) => `${format} ${count}`).join(', ') || '-'}`,
            `oldest: ${when(stats.oldest)}`,
            `newest: ${when(stats.newest)}`,
          ]
            .filter(Boolean)
            .join('\n'),
        )
        return 0
      })
    default:
      throw new UsageError(`Unknown command "${command}". Run pixstore --help`)
  }
}

async function runMigration(values: Values, print: (json: unknown, text: string) => void): Promise<number> {
  const from = text(values, 'from')
  const to = text(values, 'to')
  if (!from || !to || !text(values, 's3-bucket')) throw new UsageError('migrate needs --from <data dir>, --to <postgres url> and --s3-bucket <name>')
  const metadata = postgresStore(values, to)
  const blobs = s3Store(values)
  try {
    const progress = createProgress('migrate', undefined)
    const report = await migrate(path.resolve(from), { metadata, blobs, onProgress: (done, total) => progress.update(done, total) })
    progress.done(report.source, report.source)
    const problems = report.conflicts.length + report.sampleMismatches.length
    print(
      report,
      [
        `${report.source} images in the source: ${report.copied} copied, ${report.alreadyThere} already there, ${report.conflicts.length} conflicts`,
        ...report.conflicts.map((id) => `conflict (the destination holds another version): ${id}`),
        `${report.sampled} sampled images decrypt the same on both sides` +
          (report.sampleMismatches.length ? `, except: ${report.sampleMismatches.join(', ')}` : ''),
      ].join('\n'),
    )
    return problems > 0 ? 1 : 0
  } finally {
    await Promise.all([metadata.close(), blobs.close()])
  }
}

/** The 3.x data set named by --database and --images, else the first default one that exists. */
function legacySource(values: Values): LegacyDataSet {
  const database = text(values, 'database')
  const images = text(values, 'images')
  const named = { databasePath: database ? path.resolve(database) : undefined, imageRootDir: images ? path.resolve(images) : undefined }
  const candidates = legacyCandidates(named)
  const found = candidates.find((set) => fs.existsSync(set.databasePath))
  if (!found) throw new UsageError(`No pixstore 3.x database at ${candidates.map((set) => set.databasePath).join(' or ')} (use --database and --images)`)
  if (!fs.statSync(found.imageRootDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`No pixstore 3.x images folder at ${found.imageRootDir} (use --images)`)
  }
  return found
}

function packageVersion(): string {
  const file = fileURLToPath(new URL('../../package.json', import.meta.url))
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version
}

type Values = Record<string, string | boolean | undefined>
const text = (values: Values, name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined)

function postgresStore(values: Values, connectionString: string) {
  return createPostgresMetadataStore({ connectionString, schema: text(values, 'pg-schema'), tablePrefix: text(values, 'pg-table-prefix') })
}

function s3Store(values: Values) {
  const bucket = text(values, 's3-bucket')
  if (!bucket) throw new UsageError('--pg-url needs --s3-bucket <name> too')
  return createS3BlobStore({
    bucket,
    endpoint: text(values, 's3-endpoint'),
    region: text(values, 's3-region'),
    prefix: text(values, 's3-prefix'),
    forcePathStyle: values['s3-path-style'] === true,
  })
}

async function withBackend(backend: PixstoreBackend, action: (backend: PixstoreBackend) => Promise<number>): Promise<number> {
  try {
    return await action(backend)
  } finally {
    await backend.close()
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`pixstore: ${error.message}`)
    } else if (isPixstoreError(error)) {
      console.error(`pixstore: ${error.code}: ${error.message}`)
    } else {
      console.error(`pixstore: ${error instanceof Error ? error.message : String(error)}`)
    }
    process.exitCode = 2
  },
)
