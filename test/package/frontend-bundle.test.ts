import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

// Budget for pixstore/frontend bundled alone, minified and gzipped.
const BUDGET_GZIP_BYTES = 10 * 1024

describe('the frontend bundle', () => {
  it('builds for the browser with no Node built-in and no backend code, within its size budget', async () => {
    const result = await build({
      entryPoints: ['src/frontend/index.ts'],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent',
    })
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.filter((file) => file.startsWith('node:') || file.includes('node_modules'))).toEqual([])
    expect(inputs.filter((file) => file.includes('src/backend/'))).toEqual([])
    const code = result.outputFiles[0]!.text
    expect(code).not.toMatch(/\bfrom\s*["']node:|require\(["']node:|\bBuffer\b|\bprocess\./)
    const gzipped = gzipSync(code).length
    console.log(`pixstore/frontend: ${code.length} bytes minified, ${gzipped} bytes gzipped (budget ${BUDGET_GZIP_BYTES})`)
    expect(gzipped).toBeLessThan(BUDGET_GZIP_BYTES)
  })
})
