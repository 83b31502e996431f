import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (entry: string) => fileURLToPath(new URL(`./src/${entry}/index.ts`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: {
      'pixstore/backend': src('backend'),
      'pixstore/frontend': src('frontend'),
      'pixstore/element': src('element'),
      'pixstore/react': src('react'),
      'pixstore/shared': src('shared'),
      'pixstore/types': src('types'),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/capture-console.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
