import type { Pool, PoolClient, PoolConfig } from 'pg'
import { PixstoreError } from '../../../shared/errors.js'
import { ownProperties } from '../../../shared/options.js'
import { assertInstalled, loadOptional } from '../optional-dependency.js'
import { migrateTables, postgresTables } from './postgres-schema.js'
import { fromRow, inIdOrder, variantsColumn, type ImageRow } from './row.js'
import { retiredKeyError, type ImageVersion, type InstanceInfo, type MetadataStore, type StoredImage } from '../metadata-store.js'

/**
 * What Pixstore uses of a `pg` pool; a `pg.Pool` is one. Declared here, so that these
 * types compile in apps that do not install `pg`.
 */
export interface PostgresPool {
  connect(): Promise<unknown>
  query(text: string, values?: unknown[]): Promise<unknown>
  end(): Promise<void>
}

/** Options of the PostgreSQL metadata store. */
export interface PostgresMetadataStoreOptions {
  /** A connection URL such as `postgres://user:pass@db:5432/app`. Give this or `pool`. */
  connectionString?: string
  /** An existing `pg` pool to use (it is not ended by `close`). */
  pool?: PostgresPool
  /**
   * Settings of `pg`'s `PoolConfig` when Pixstore makes the pool (`max` connections, timeouts,
   * TLS), `connectionString` aside. Pixstore's defaults bound every wait, so that a database
   * that stops answering fails requests instead of holding them: `connectionTimeoutMillis`
   * 5000, `query_timeout` 15000, `keepAlive` on.
   */
  poolConfig?: { readonly [setting: string]: unknown }
  /** Schema of the tables, created if missing. Default `public`. */
  schema?: string
  /** Prefix of the table names. Default `pixstore_`. */
  tablePrefix?: string
}


const identifier = /^[a-z_][a-z0-9_]{0,40}$/

/**
 * Whether an error is the connection's, not the statement's: a socket error, a connection
 * the server ended (SQLSTATE class 08, or 57P01-57P03 as it shuts down), or no connection
 * within the connection timeout. A query that ran out of its own time is not one: sending
 * it again would only double a slow query's load.
 */
function isConnectionError(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (typeof code === 'string') return /^(08|57P0[1-3])/.test(code) || /^E(CONN|PIPE|HOSTUNREACH|NETUNREACH|TIMEDOUT|AI_AGAIN)/.test(code)
  return typeof message === 'string' && /Connection terminated|ended unexpectedly|timeout exceeded when trying to connect/i.test(message)
}

/**
 * A metadata store on PostgreSQL (`pg`, an optional peer dependency loaded on first use),
 * shared by any number of backend instances. Tables are created or migrated on first use,
 * under an advisory lock so that instances starting together agree. Every statement is
 * parameterised. Tokens come from one clock row updated in each write's transaction, so
 * they grow strictly per id across all instances, whatever their clocks say.
 */
export function createPostgresMetadataStore(given: PostgresMetadataStoreOptions): MetadataStore {
  const options = ownProperties(given)
  const schema = options.schema ?? 'public'
  const prefix = options.tablePrefix ?? 'pixstore_'
  if (!identifier.test(schema) || !(prefix === '' || identifier.test(prefix))) {
    throw new PixstoreError('INVALID_CONFIG', 'createPostgresMetadataStore: schema and tablePrefix must be lower-case letters, digits and _')
  }
  if (!options.pool && !options.connectionString) {
    throw new PixstoreError('INVALID_CONFIG', 'createPostgresMetadataStore: give connectionString or pool')
  }
  if (!options.pool) assertInstalled('pg', 'The PostgreSQL metadata store')
  const tables = postgresTables(schema, prefix)
  const { images, clock, retired, instances } = tables
  // The database's clock, so that instances on machines whose clocks differ agree on who is live.
  const nowMs = '(extract(epoch from clock_timestamp()) * 1000)::bigint'

  const ownPool = !options.pool
  let pool: Promise<Pool> | undefined
  let ready: Promise<Pool> | undefined

  const fail = (what: string, cause: unknown) =>
    cause instanceof PixstoreError ? cause : new PixstoreError('STORAGE_FAILED', `PostgreSQL failed to ${what}: ${(cause as Error).message}`, { cause })

  const getPool = () =>
    (pool ??= options.pool
      ? Promise.resolve(options.pool as unknown as Pool)
      : loadOptional('pg', () => import('pg'), 'The PostgreSQL metadata store').then((pg) => {
          const created = new pg.default.Pool({
            connectionTimeoutMillis: 5000,
            query_timeout: 15_000,
            keepAlive: true,
            ...(options.poolConfig as PoolConfig | undefined),
            connectionString: options.connectionString,
          })
          // An idle connection that dies must not crash the process; the next query reconnects.
          created.on('error', () => undefined)
          return created
        }))

  const connected = async () => {
    ready ??= getPool().then((p) => migrateTables(p, tables))
    try {
      return await ready
    } catch (error) {
      ready = undefined // a later call tries again (the database may be back)
      throw fail('prepare its tables', error)
    }
  }

  async function transaction<T>(what: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const p = await connected()
    let client: PoolClient
    try {
      client = await p.connect()
    } catch (cause) {
      throw fail('connect', cause)
    }
    let broken: Error | undefined
    try {
      // Read committed whatever the server's default: each statement then sees what committed
      // before it, which the retired-key check after taking the clock row relies on.
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      // A connection that failed goes, rather than back to the pool for the next request.
      if (isConnectionError(error)) broken = error as Error
      await client.query('ROLLBACK').catch(() => undefined)
      throw fail(what, error)
    } finally {
      client.release(broken)
    }
  }

  // A statement that met a dropped connection (the database restarted) is sent once more, on
  // a new one, when sending it twice is harmless: reads, and writes whose second run changes
  // nothing (`retry: false` for one whose answer would then be wrong).
  const queryAny = async <Row extends object>(what: string, text: string, values: unknown[], retry = true) => {
    const p = await connected()
    for (let attempt = 1; ; attempt++) {
      try {
        return await p.query<Row & Record<string, unknown>>(text, values)
      } catch (cause) {
        if (!retry || attempt === 2 || !isConnectionError(cause)) throw fail(what, cause)
      }
    }
  }
  const query = (what: string, text: string, values: unknown[], retry = true) => queryAny<ImageRow>(what, text, values, retry)

  // Run after taking the clock row, which `retireKeys` takes too: a commit either finished
  // before a retirement or sees it.
  const refuseRetired = async (client: PoolClient, keyId: string) => {
    const found = await client.query(`SELECT 1 FROM ${retired} WHERE id = $1`, [keyId])
    if (found.rows.length > 0) throw retiredKeyError(keyId)
  }
  const tickClock = (client: PoolClient) => client.query(`UPDATE ${clock} SET last_token = last_token WHERE id = 1`)

  const columns = 'id, token, key_id, wrapped_key, iv, tag, blob_key, format, bytes, width, height, updated_at, variants'
  const placeholders = '$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13'
  const valuesOf = (i: StoredImage) => [
    i.id, i.token, i.keyId, i.wrappedKey, i.iv, i.tag, i.blobKey, i.format, i.bytes, i.width, i.height, i.updatedAt, variantsColumn(i),
  ]

  return {
    async get(id) {
      const { rows } = await query('read', `SELECT * FROM ${images} WHERE id = $1`, [id])
      return rows[0] && fromRow(rows[0])
    },
    async getMany(ids) {
      const { rows } = await query('read', `SELECT * FROM ${images} WHERE id = ANY($1::text[])`, [ids])
      return inIdOrder(ids, rows)
    },
    commit: (version: ImageVersion, mode) =>
      transaction('commit', async (client) => {
        // Taking the clock row first serialises writers, so the read below is current.
        const updatedAt = Date.now()
        const tick = await client.query<{ last_token: string }>(
          `UPDATE ${clock} SET last_token = GREATEST(last_token + 1, $1) WHERE id = 1 RETURNING last_token`,
          [updatedAt],
        )
        await refuseRetired(client, version.keyId)
        // Locked: a backfill's setVariants (which does not take the clock row) waits, so the row replaced is the one read here.
        const previous = (await client.query<ImageRow>(`SELECT * FROM ${images} WHERE id = $1 FOR UPDATE`, [version.id])).rows[0]
        if (mode === 'create' && previous) throw new PixstoreError('ALREADY_EXISTS', `An image with id "${version.id}" already exists`)
        if (mode === 'update' && !previous) throw new PixstoreError('NOT_FOUND', `No image with id "${version.id}"`)
        const image: StoredImage = { ...version, token: Number(tick.rows[0]!.last_token), updatedAt }
        if (previous) {
          await client.query(
            `UPDATE ${images} SET token = $2, key_id = $3, wrapped_key = $4, iv = $5, tag = $6, blob_key = $7, format = $8,
               bytes = $9, width = $10, height = $11, updated_at = $12, variants = $13 WHERE id = $1`,
            valuesOf(image),
          )
          return { image, replaced: fromRow(previous) }
        }
        await client.query(`INSERT INTO ${images} (${columns}) VALUES (${placeholders})`, valuesOf(image))
        return { image }
      }),
    async delete(id) {
      const { rows } = await query('delete', `DELETE FROM ${images} WHERE id = $1 RETURNING *`, [id], false)
      return rows[0] && fromRow(rows[0])
    },
    async list(after, limit) {
      const { rows } =
        after === undefined
          ? await query('list', `SELECT * FROM ${images} ORDER BY id COLLATE "C" LIMIT $1`, [limit])
          : await query('list', `SELECT * FROM ${images} WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`, [after, limit])
      return rows.map(fromRow)
    },
    async replaceKey(id, blobKey, from, to) {
      const { rowCount } = await query(
        'rewrap',
        `UPDATE ${images} SET key_id = $5, wrapped_key = $6 WHERE id = $1 AND blob_key = $2 AND key_id = $3 AND wrapped_key = $4
           AND NOT EXISTS (SELECT 1 FROM ${retired} WHERE id = $5)`,
        [id, blobKey, from.keyId, from.wrappedKey, to.keyId, to.wrappedKey],
      )
      return rowCount === 1
    },
    import: (image) =>
      transaction('import', async (client) => {
        await client.query(`UPDATE ${clock} SET last_token = GREATEST(last_token, $1) WHERE id = 1`, [image.token])
        await refuseRetired(client, image.keyId)
        const inserted = await client.query(
          `INSERT INTO ${images} (${columns}) VALUES (${placeholders}) ON CONFLICT (id) DO NOTHING`,
          valuesOf(image),
        )
        return inserted.rowCount === 1
      }),
    async setVariants(id, blobKey, variants, placeholder) {
      const { rowCount } = await query('set variants', `UPDATE ${images} SET variants = $3 WHERE id = $1 AND blob_key = $2`, [
        id,
        blobKey,
        variantsColumn({ blobKey, variants, placeholder }),
      ])
      return rowCount === 1
    },
    async keyIdsInUse() {
      const { rows } = await query('read', `SELECT DISTINCT key_id FROM ${images} ORDER BY key_id`, [])
      return rows.map((row) => row.key_id)
    },
    retireKeys: (ids) =>
      transaction('retire keys', async (client) => {
        await tickClock(client)
        for (const id of ids) {
          await client.query(`INSERT INTO ${retired} (id, retired_at) VALUES ($1, ${nowMs}) ON CONFLICT (id) DO NOTHING`, [id])
        }
      }),
    async retiredKeyIds() {
      const { rows } = await query('read', `SELECT id FROM ${retired} ORDER BY id`, [])
      return rows.map((row) => row.id)
    },
    async beat(instance) {
      await query(
        'record an instance',
        `INSERT INTO ${instances} (id, info, seen_at) VALUES ($1, $2, ${nowMs})
         ON CONFLICT (id) DO UPDATE SET info = excluded.info, seen_at = excluded.seen_at`,
        [instance.id, JSON.stringify(instance)],
      )
    },
    async forgetInstance(id) {
      await query('forget an instance', `DELETE FROM ${instances} WHERE id = $1`, [id])
    },
    async liveInstances(withinMs) {
      const { rows } = await queryAny<{ info: InstanceInfo; seen_at: string }>(
        'read',
        `SELECT info, seen_at FROM ${instances} WHERE seen_at > ${nowMs} - $1`,
        [withinMs],
      )
      return rows.map((row) => ({ ...row.info, seenAt: Number(row.seen_at) }))
    },
    async close() {
      // A pool that never came to be (its package failed to load) has nothing to end.
      if (ownPool && pool) await (await pool.catch(() => undefined))?.end()
    },
  }
}
