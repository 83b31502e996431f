import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { browserBuild } from '../../demo/browser-build.js'
import { describe, expect, it } from 'vitest'

// Each browser entry point bundled alone, minified and gzipped, against its budget.
// Variants (picking, format detection, their keys) and the placeholder decoder raised them
// from 10 / 12 / 12 KiB.
const entries = [
  { name: 'pixstore/frontend', file: 'src/frontend/index.ts', budget: 11 * 1024 },
  { name: 'pixstore/element', file: 'src/element/index.ts', budget: 14 * 1024 },
  { name: 'pixstore/react', file: 'src/react/index.ts', budget: 14 * 1024, external: ['react'] },
]

describe('browser bundles', () => {
  it.each(entries)('$name builds for the browser with no Node built-in and no backend code, within its budget', async (entry) => {
    const result = await build({ ...browserBuild, entryPoints: [entry.file], metafile: true, external: entry.external ?? [] })
    const inputs = Object.keys(result.metafile.inputs)
    // Only the ThumbHash decoder (a dependency with no imports of its own) comes from node_modules.
    expect(inputs.filter((file) => file.startsWith('node:') || (file.includes('node_modules') && !file.includes('node_modules/thumbhash/')))).toEqual([])
    expect(inputs.filter((file) => file.includes('src/backend/'))).toEqual([])
    const code = result.outputFiles[0]!.text
    expect(code).not.toMatch(/\bfrom\s*["']node:|require\(["']node:|\bBuffer\b|\bprocess\./)
    const gzipped = gzipSync(code).length
    console.log(`${entry.name}: ${code.length} bytes minified, ${gzipped} bytes gzipped (budget ${entry.budget})`)
    expect(gzipped).toBeLessThan(entry.budget)
  })
})
