import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import config from '../../vitest.config.js'

const documents = ['README.md', 'CONTRIBUTING.md', ...fs.readdirSync('docs').filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]

// What the snippets take as given: an app's own objects, named as the docs name them.
const prelude = `import type { ImageRecord as Record_ } from 'pixstore/types'
import type { PixstoreBackend } from 'pixstore/backend'
import type { Express } from 'express'
declare global {
  type ImageRecord = Record_
  const app: Express
  const backend: PixstoreBackend
  const pngBytes: Uint8Array
  const player: { id: string; name: string }
  const img: HTMLImageElement
  const imageRecord: Record_
  const controller: AbortController
  function fetchRecord(id: string): Promise<Record_>
}
export {}
`

/** Every ```ts and ```tsx block of the docs, with where it comes from. */
function snippets(): { where: string; file: string; code: string }[] {
  const found: { where: string; file: string; code: string }[] = []
  for (const document of documents) {
    const text = fs.readFileSync(document, 'utf8')
    let n = 0
    for (const match of text.matchAll(/^```(ts|tsx)\n([\s\S]*?)^```/gm)) {
      n++
      const code = match[2]!
      const line = text.slice(0, match.index).split('\n').length
      const file = `${document.replace(/[/.]/g, '_')}_${n}.${match[1]}`
      found.push({ where: `${document}:${line}`, file, code: /^\s*(import|export)\b/m.test(code) ? code : `${code}\nexport {}\n` })
    }
  }
  return found
}

describe('the code snippets of the README and the guides', () => {
  // Inside the repository, so that the snippets resolve express, react and the rest from its node_modules.
  fs.mkdirSync('test-output', { recursive: true })
  const work = { dir: fs.mkdtempSync(path.resolve('test-output/snippets-')) }
  afterAll(() => fs.rmSync(work.dir, { recursive: true, force: true }))

  it('all type-check against the package', () => {
    const all = snippets()
    expect(all.length).toBeGreaterThanOrEqual(10)
    for (const snippet of all) fs.writeFileSync(path.join(work.dir, snippet.file), snippet.code)
    fs.writeFileSync(path.join(work.dir, 'prelude.ts'), prelude)
    fs.writeFileSync(
      path.join(work.dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          target: 'es2022',
          module: 'esnext',
          moduleResolution: 'bundler',
          jsx: 'react-jsx',
          lib: ['es2022', 'dom', 'dom.iterable'],
          types: ['node'],
          // The same mapping of pixstore/* to the sources as the test runner's.
          paths: Object.fromEntries(Object.entries(config.resolve!.alias as Record<string, string>).map(([name, file]) => [name, [file]])),
        },
        include: ['*.ts', '*.tsx'],
      }),
    )
    let output = ''
    try {
      execFileSync(process.execPath, [path.resolve('node_modules/typescript/bin/tsc'), '-p', work.dir], { encoding: 'utf8' })
    } catch (error) {
      output = String((error as { stdout?: string }).stdout)
    }
    // Name the document and line of each failing snippet.
    for (const snippet of all) output = output.replaceAll(snippet.file, `${snippet.file} (${snippet.where})`)
    expect(output).toBe('')
  })

  it('docs/errors.md names every error code', () => {
    const source = fs.readFileSync('src/shared/errors.ts', 'utf8')
    const union = source.slice(source.indexOf('export type PixstoreErrorCode'), source.indexOf('const expectedCodes'))
    const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((match) => match[1]!)
    expect(codes).toContain('MISSING_DEPENDENCY')
    const errors = fs.readFileSync('docs/errors.md', 'utf8')
    expect(codes.filter((code) => !errors.includes(`\`${code}\``))).toEqual([])
  })
})
