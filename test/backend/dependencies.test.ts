import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fixture, tempDir } from '../helpers.js'
import { assertInstalled } from '../../src/backend/stores/optional-dependency.js'

vi.mock('better-sqlite3', () => ({
  default: class {
    constructor() {
      // As better-sqlite3 12 reports an addon that was never built (npm install --ignore-scripts).
      throw new Error('Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node')
    }
  },
}))

describe('missing dependencies are reported at start-up, saying how to fix them', () => {
  const data = tempDir()
  afterEach(() => data.remove())

  it('names npm rebuild better-sqlite3 when its native binding is missing, with MISSING_DEPENDENCY', async () => {
    const { createPixstoreBackend } = await import('pixstore/backend')
    expect(() => createPixstoreBackend({ dataDir: data.dir })).toThrow(
      expect.objectContaining({ code: 'MISSING_DEPENDENCY', message: expect.stringContaining('npm rebuild better-sqlite3') }),
    )
  })

  it('reports a peer dependency that cannot be resolved when the store is made, naming the package', () => {
    const resolve = (name: string) => {
      throw new Error(`Cannot find module '${name}'`)
    }
    expect(() => assertInstalled('pg', 'The PostgreSQL metadata store', resolve)).toThrow(
      expect.objectContaining({ code: 'MISSING_DEPENDENCY', message: 'The PostgreSQL metadata store needs the "pg" package: npm install pg' }),
    )
    expect(() => assertInstalled('pg', 'The PostgreSQL metadata store')).not.toThrow()
  })
})

describe('the built package where pg, @aws-sdk/client-s3 and sharp are not installed', () => {
  it('fails initPixstoreBackend with MISSING_DEPENDENCY for each, and closes without throwing', () => {
    const app = tempDir('pixstore-app-')
    try {
      const modules = path.join(app.dir, 'node_modules')
      const pixstore = path.join(modules, 'pixstore')
      fs.mkdirSync(pixstore, { recursive: true })
      fs.cpSync('dist', path.join(pixstore, 'dist'), { recursive: true })
      fs.copyFileSync('package.json', path.join(pixstore, 'package.json'))
      // As an install without optional peers: the package's dependencies only.
      const manifest = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> }
      for (const name of Object.keys(manifest.dependencies)) fs.symlinkSync(path.resolve('node_modules', name), path.join(modules, name))
      const fixtureBytes = fixture('sample.png')
      const script = `
        import { closePixstoreBackend, createPostgresMetadataStore, createS3BlobStore, initPixstoreBackend } from 'pixstore/backend'
        const codes = []
        for (const store of [() => createPostgresMetadataStore({ connectionString: 'postgres://nowhere/db' }), () => createS3BlobStore({ bucket: 'images' })]) {
          try {
            initPixstoreBackend({ metadataStore: store(), defaultEndpointEnabled: false })
            codes.push('started')
          } catch (error) {
            codes.push(error.code + ': ' + error.message)
          }
          await closePixstoreBackend()
        }
        // Variants need sharp; without variants the embedded default starts and saves as ever.
        for (const variants of [{ widths: [160] }, undefined]) {
          try {
            const { backend } = initPixstoreBackend({ dataDir: 'data', variants, defaultEndpointEnabled: false })
            await backend.saveImage(Uint8Array.from(${JSON.stringify([...fixtureBytes])}))
            codes.push('started and saved')
          } catch (error) {
            codes.push(error.code + ': ' + error.message)
          }
          await closePixstoreBackend()
        }
        console.log(JSON.stringify(codes))`
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app.dir, encoding: 'utf8' })
      expect(JSON.parse(out)).toEqual([
        'MISSING_DEPENDENCY: The PostgreSQL metadata store needs the "pg" package: npm install pg',
        'MISSING_DEPENDENCY: The S3 blob store needs the "@aws-sdk/client-s3" package: npm install @aws-sdk/client-s3',
        'MISSING_DEPENDENCY: The option "variants" (image variants) needs the "sharp" package: npm install sharp',
        'started and saved',
      ])
    } finally {
      app.remove()
    }
  })
})
