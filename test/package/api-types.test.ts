import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  createPixstoreBackend,
  getImageRecord,
  getImageRecordAsync,
  initPixstoreBackend,
  saveImage,
  type BackfillReport,
  type EndpointHelperOptions,
  type PixstoreBackend,
  type SaveImageOptions,
  type ServedImage,
  type UpdateImageOptions,
  type VariantOptions,
} from 'pixstore/backend'
import { createPixstoreFrontend, getImage, getImageURL, initPixstoreFrontend, type ImageURL, type PixstoreFrontend } from 'pixstore/frontend'
import type { FetchOptions, ImageFetcher, ImageFormat, ImageRecord, ImageVariant } from 'pixstore/types'

// Checked by the type checker (`npm test` runs tsc over the tests): the declared types of
// the main calls, in their instance and module forms.
describe('the public API types', () => {
  it('instances carry no null but for absence; the module functions keep the seed\'s null-returning flow', () => {
    expectTypeOf(createPixstoreBackend).returns.toEqualTypeOf<PixstoreBackend>()
    expectTypeOf<PixstoreBackend['saveImage']>().returns.toEqualTypeOf<Promise<ImageRecord>>()
    expectTypeOf<PixstoreBackend['updateImage']>().returns.toEqualTypeOf<Promise<ImageRecord>>()
    expectTypeOf<PixstoreBackend['deleteImage']>().returns.toEqualTypeOf<Promise<boolean>>()
    expectTypeOf<PixstoreBackend['getImageRecord']>().returns.toEqualTypeOf<ImageRecord | null>()
    expectTypeOf<PixstoreBackend['serveImage']>().returns.toEqualTypeOf<Promise<ServedImage>>()
    expectTypeOf(saveImage).returns.toEqualTypeOf<Promise<ImageRecord | null>>()
    expectTypeOf(getImageRecord).returns.toEqualTypeOf<ImageRecord | null>()
    expectTypeOf(getImageRecordAsync).returns.toEqualTypeOf<Promise<ImageRecord | null>>()

    expectTypeOf(createPixstoreFrontend).returns.toEqualTypeOf<PixstoreFrontend>()
    expectTypeOf<PixstoreFrontend['getImage']>().returns.toEqualTypeOf<Promise<Blob>>()
    expectTypeOf<PixstoreFrontend['getImageURL']>().returns.toEqualTypeOf<Promise<ImageURL>>()
    expectTypeOf<PixstoreFrontend['getCacheStats']>().returns.resolves.toEqualTypeOf<{ entries: number; bytes: number }>()
    expectTypeOf(getImage).returns.toEqualTypeOf<Promise<Blob | null>>()
    expectTypeOf(getImageURL).returns.toEqualTypeOf<Promise<ImageURL | null>>()
    expectTypeOf<ImageURL>().toEqualTypeOf<{ readonly url: string; readonly variant: ImageVariant | null; release(): void }>()
    expectTypeOf<ImageVariant>().toEqualTypeOf<{ width: number; height: number; format: ImageFormat; bytes: number; salt: string }>()
    expectTypeOf<ImageRecord['variants']>().toEqualTypeOf<ImageVariant[] | undefined>()
    expectTypeOf<ImageRecord['placeholder']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<NonNullable<Parameters<PixstoreFrontend['getImage']>[2]>['width']>().toEqualTypeOf<number | undefined>()
    expectTypeOf<Parameters<ImageFetcher>[3]>().toEqualTypeOf<FetchOptions | undefined>()
    expectTypeOf<NonNullable<Parameters<PixstoreBackend['updateImage']>[2]>>().toEqualTypeOf<UpdateImageOptions>()
    expectTypeOf<NonNullable<SaveImageOptions['variants']>>().toEqualTypeOf<VariantOptions | false>()
    expectTypeOf<PixstoreBackend['backfillVariants']>().returns.toEqualTypeOf<Promise<BackfillReport>>()
    expectTypeOf<NonNullable<Parameters<PixstoreBackend['customEndpointHelper']>[3]>>().toEqualTypeOf<EndpointHelperOptions>()
  })

  it('takes the error options only where a default instance is configured', () => {
    const misuse = () => {
      // @ts-expect-error an instance always throws: it has no errorHandlingMode
      createPixstoreBackend({ errorHandlingMode: 'silent' })
      // @ts-expect-error an instance always throws: it has no onError
      createPixstoreFrontend({ onError: () => undefined })
      initPixstoreBackend({ errorHandlingMode: 'silent', onError: (error) => expectTypeOf(error.code).toBeString() })
      initPixstoreFrontend({ errorHandlingMode: 'warn', onError: (error) => expectTypeOf(error.code).toBeString() })
    }
    expect(typeof misuse).toBe('function')
  })
})
