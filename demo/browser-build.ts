import type { BuildOptions } from 'esbuild'

/**
 * esbuild options for a browser bundle built in memory: one ES module for current
 * browsers, minified. The demo page, the browser benchmark and the bundle tests share them.
 */
export const browserBuild = {
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'silent',
} as const satisfies BuildOptions
