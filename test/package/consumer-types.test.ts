import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers.js'

// A new app's project: the built package as installed, TypeScript strict with
// skipLibCheck off, and neither pg nor @aws-sdk/client-s3 installed.
describe('the package type-checks in an app that installs only what it uses', () => {
  const app = tempDir('pixstore-consumer-')
  const modules = path.join(app.dir, 'node_modules')
  const link = (name: string) => {
    fs.mkdirSync(path.dirname(path.join(modules, name)), { recursive: true })
    fs.symlinkSync(path.resolve('node_modules', name), path.join(modules, name))
  }
  const tsc = () => {
    try {
      execFileSync(process.execPath, [path.join(modules, 'typescript/bin/tsc'), '-p', app.dir], { encoding: 'utf8' })
      return ''
    } catch (error) {
      return String((error as { stdout?: string }).stdout)
    }
  }
  const write = (file: string, text: string) => fs.writeFileSync(path.join(app.dir, file), text)

  beforeAll(() => {
    const pixstore = path.join(modules, 'pixstore')
    fs.mkdirSync(pixstore, { recursive: true })
    fs.cpSync('dist', path.join(pixstore, 'dist'), { recursive: true })
    fs.copyFileSync('package.json', path.join(pixstore, 'package.json'))
    for (const name of ['typescript', '@types/node', '@types/react', 'csstype']) link(name)
    write(
      'tsconfig.json',
      JSON.stringify({
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['es2022', 'dom'],
          jsx: 'react-jsx',
          types: ['node'],
        },
        include: ['*.ts', '*.tsx'],
      }),
    )
    write('package.json', JSON.stringify({ type: 'module' }))
  })
  afterAll(() => app.remove())

  it('compiles backend code using every store, without pg or the AWS SDK installed', () => {
    expect(fs.existsSync(path.join(modules, 'pg')) || fs.existsSync(path.join(modules, '@aws-sdk'))).toBe(false)
    write(
      'server.ts',
      `import { createPostgresMetadataStore, createS3BlobStore, initPixstoreBackend, getImageRecordAsync } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
initPixstoreBackend({
  metadataStore: createPostgresMetadataStore({ connectionString: 'postgres://db/app', poolConfig: { max: 20 } }),
  blobStore: createS3BlobStore({ bucket: 'images', clientConfig: { maxAttempts: 5 } }),
  defaultEndpointEnabled: false,
})
const record: ImageRecord | null = await getImageRecordAsync('42')
console.log(record?.statelessProof)
`,
    )
    expect(tsc()).toBe('')
  })

  it('compiles the element used from TypeScript and in React 19 TSX', () => {
    write(
      'page.ts',
      `import { getImage } from 'pixstore/frontend'
import { definePixstoreImage } from 'pixstore/element'
import type { ImageRecord } from 'pixstore/types'
definePixstoreImage()
declare const imageRecord: ImageRecord
const el = document.querySelector('pixstore-image')
if (el) {
  el.refresh = async () => imageRecord
  el.record = imageRecord
}
const blob = await getImage(imageRecord)
if (blob) document.body.append(URL.createObjectURL(blob))
`,
    )
    write(
      'avatar.tsx',
      `import type {} from 'pixstore/react'
import type { ImageRecord } from 'pixstore/types'
export const Avatar = ({ record }: { record: ImageRecord }) => <pixstore-image record={record} alt="avatar" loading="lazy" width={96} />
`,
    )
    expect(tsc()).toBe('')
  })

  it('still reports a real type error, so that the checks above can fail', () => {
    write('wrong.ts', `import { initPixstoreBackend } from 'pixstore/backend'\ninitPixstoreBackend({ dataDir: 42 })\n`)
    expect(tsc()).toContain('wrong.ts')
    fs.rmSync(path.join(app.dir, 'wrong.ts'))
  })

  it('resolves every subpath\'s types in a CommonJS project (module commonjs, moduleResolution node10), as NestJS and tsc --init set up', () => {
    const cjs = path.join(app.dir, 'cjs')
    fs.mkdirSync(cjs)
    fs.writeFileSync(
      path.join(cjs, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022', module: 'commonjs', moduleResolution: 'node10', lib: ['es2022', 'dom'], types: ['node'] },
        include: ['*.ts'],
      }),
    )
    fs.writeFileSync(
      path.join(cjs, 'main.ts'),
      `import { initPixstoreBackend, getImageRecord, type FileDelivery } from 'pixstore/backend'
import { getImage, initPixstoreFrontend } from 'pixstore/frontend'
import { definePixstoreImage } from 'pixstore/element'
import { PixstoreError } from 'pixstore/shared'
import type { ImageFetcher, ImageRecord } from 'pixstore/types'
const behindNginx: FileDelivery = { header: 'X-Accel-Redirect', prefix: '/pixstore-files/' }
initPixstoreBackend({ dataDir: './images', defaultEndpointEnabled: false, fileDelivery: behindNginx })
const record: ImageRecord | null = getImageRecord('42')
// A 3.x-style typed custom fetcher, passing the abort signal on to fetch.
const fetcher: ImageFetcher = async (r, _context, signal) => new Uint8Array(await (await fetch('/img/' + r.id, { signal })).arrayBuffer())
initPixstoreFrontend({}, fetcher)
definePixstoreImage()
if (record) void getImage(record)
console.log(PixstoreError.name)
`,
    )
    let output = ''
    try {
      execFileSync(process.execPath, [path.join(modules, 'typescript/bin/tsc'), '-p', cjs], { encoding: 'utf8' })
    } catch (error) {
      output = String((error as { stdout?: string }).stdout)
    }
    expect(output).toBe('')
  })
})
