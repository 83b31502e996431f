import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserBuild } from '../../demo/browser-build.js'
import { browserTestsEnabled, launchChromium } from '../browser/chromium.js'
import { tempDir } from '../helpers.js'
import { mixedSteps, runCli, write3x } from './data-set.js'

const appSource = fileURLToPath(new URL('./app/', import.meta.url))
const repo = path.resolve('.')

interface Shown {
  id: string
  type: string
  sha256: string
  width: number
}

/** Starts the compiled app; resolves with its port once it listens, or with its exit code and output if it exits first. */
function startApp(dir: string): Promise<{ port?: number; code?: number | null; output: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['build/server.js'], { cwd: dir, env: { ...process.env, PORT: '0' } })
  let output = ''
  return new Promise((resolve) => {
    const take = (chunk: Buffer) => {
      output += chunk.toString()
      const port = /listening (\d+)/.exec(output)?.[1]
      if (port) resolve({ port: Number(port), output, child })
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.on('exit', (code) => resolve({ code, output, child }))
  })
}

// An app written against the pixstore 3.x docs (test/legacy-3x/app), with its images
// written by the published pixstore 3.2.1, moved to Pixstore: no line of it changes.
describe.runIf(browserTestsEnabled())('a pixstore 3.x app on Pixstore, unchanged, in Chromium', () => {
  const work = tempDir('pixstore-3x-app-')
  const app = work.dir
  const running: ChildProcess[] = []
  let browser: Browser | undefined

  const tsc = (project: string) => {
    const result = spawn(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: app })
    let output = ''
    result.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    return new Promise<{ code: number | null; output: string }>((resolve) => result.on('exit', (code) => resolve({ code, output })))
  }

  beforeAll(async () => {
    // The package as an app installs it (its own dependencies resolve from the repository).
    fs.mkdirSync(path.join(app, 'node_modules/@types'), { recursive: true })
    fs.symlinkSync(repo, path.join(app, 'node_modules/pixstore'))
    fs.symlinkSync(path.join(repo, 'node_modules/@types/node'), path.join(app, 'node_modules/@types/node'))
    for (const file of ['server.ts', 'client.ts']) fs.copyFileSync(path.join(appSource, file), path.join(app, file))
    const compilerOptions = { strict: true, skipLibCheck: false, target: 'es2022', esModuleInterop: true }
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'commonjs', moduleResolution: 'node10', outDir: 'build', types: ['node'] }, files: ['server.ts'] }),
    )
    fs.writeFileSync(
      path.join(app, 'tsconfig.client.json'),
      JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [], noEmit: true }, files: ['client.ts'] }),
    )
  })
  afterAll(async () => {
    for (const child of running) child.kill()
    await browser?.close()
    work.remove()
  })

  it('compiles: the backend as CommonJS (moduleResolution node10), the browser code with its typed 3.x fetcher', async () => {
    expect(await tsc('tsconfig.json')).toEqual({ code: 0, output: '' })
    expect(await tsc('tsconfig.client.json')).toEqual({ code: 0, output: '' })
    const bundle = await build({ ...browserBuild, entryPoints: [path.join(app, 'client.ts')], absWorkingDir: app })
    fs.mkdirSync(path.join(app, 'public'))
    fs.writeFileSync(path.join(app, 'public/client.js'), bundle.outputFiles[0]!.contents)
  }, 60_000)

  it('refuses to start on its 3.x images until they are imported, then shows every one of them, byte for byte', async () => {
    const written = write3x(app, mixedSteps, { imageRootDir: 'uploads', databasePath: './app.sqlite' })
    fs.writeFileSync(path.join(app, 'ids.json'), JSON.stringify(written.map((image) => image.id)))

    // It never starts showing an app with no images: it names the command that imports them.
    const refused = await startApp(app)
    expect(refused.port).toBeUndefined()
    expect(refused.output).toContain('IMPORT_REQUIRED')
    const command = /npx pixstore (import-3x [^\n]*)/.exec(refused.output)![1]!.trim().split(' ')
    const imported = await runCli(command, app)
    expect(imported.code).toBe(0)
    expect(imported.stdout).toContain(`${written.length} copied`)

    const started = await startApp(app)
    running.push(started.child)
    expect(started.port, started.output).toBeGreaterThan(0)
    browser = await launchChromium()
    const page = await browser.newPage()
    const warnings: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'warning') warnings.push(message.text())
    })
    await page.goto(`http://127.0.0.1:${started.port}/`)
    const shown = await page.evaluate(() => (window as unknown as { shown: Promise<Shown[]> }).shown)

    const mimeOf = { '.png': 'image/png', '.jpg': 'image/jpeg', '.webp': 'image/webp' } as Record<string, string>
    expect(shown).toEqual(
      written.map((image) => ({
        id: image.id,
        type: mimeOf[path.extname(image.file)],
        sha256: createHash('sha256').update(fs.readFileSync(image.file)).digest('hex'),
        width: expect.any(Number) as number,
      })),
    )
    for (const image of shown) expect(image.width).toBeGreaterThan(0)
    // Each 3.x option Pixstore renames or ignores said so, once.
    for (const option of ['imageFormats', 'frontendDbName', 'frontendDbVersion', 'imageStoreName', 'frontendCleanupBatch']) {
      expect(warnings.filter((text) => text.includes(`"${option}"`)), option).toHaveLength(1)
    }
  }, 60_000)
})
