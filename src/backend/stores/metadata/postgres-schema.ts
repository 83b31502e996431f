import type { Pool } from 'pg'
import { PixstoreError } from '../../../shared/errors.js'

const SCHEMA_VERSION = 3

/** The quoted names of the PostgreSQL store's tables in `schema`, each prefixed. */
export interface PostgresTables {
  schema: string
  prefix: string
  images: string
  clock: string
  version: string
  retired: string
  instances: string
}

/** The table names of a store. */
export function postgresTables(schema: string, prefix: string): PostgresTables {
  const table = (name: string) => `"${schema}"."${prefix}${name}"`
  return {
    schema,
    prefix,
    images: table('images'),
    clock: table('clock'),
    version: table('schema_version'),
    retired: table('retired_keys'),
    instances: table('instances'),
  }
}

/**
 * Creates or upgrades the tables, under an advisory lock so that instances starting
 * together agree; returns the pool.
 *
 * @throws PixstoreError `INVALID_CONFIG` for tables a newer Pixstore wrote.
 */
export async function migrateTables(p: Pool, tables: PostgresTables): Promise<Pool> {
  const { schema, prefix, images, clock, version, retired, instances } = tables
  const client = await p.connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pixstore-migrate:${schema}:${prefix}`])
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${version} (version integer NOT NULL)`)
    const found = await client.query<{ version: number }>(`SELECT version FROM ${version}`)
    const current = found.rows[0]?.version ?? 0
    if (current > SCHEMA_VERSION) throw new PixstoreError('INVALID_CONFIG', `The Pixstore tables were written by a newer Pixstore (schema ${current})`)
    if (current < 1) {
      await client.query(`CREATE TABLE ${clock} (id integer PRIMARY KEY CHECK (id = 1), last_token bigint NOT NULL)`)
      await client.query(`INSERT INTO ${clock} (id, last_token) VALUES (1, 0)`)
      await client.query(`CREATE TABLE ${images} (
        id text PRIMARY KEY,
        token bigint NOT NULL,
        key_id text NOT NULL,
        wrapped_key text NOT NULL,
        iv text NOT NULL,
        tag text NOT NULL,
        blob_key text NOT NULL UNIQUE,
        format text NOT NULL,
        bytes integer NOT NULL,
        width integer NOT NULL,
        height integer NOT NULL,
        updated_at bigint NOT NULL
      )`)
    }
    if (current < 2) {
      await client.query(`CREATE TABLE ${retired} (id text PRIMARY KEY, retired_at bigint NOT NULL)`)
      await client.query(`CREATE TABLE ${instances} (id text PRIMARY KEY, info jsonb NOT NULL, seen_at bigint NOT NULL)`)
    }
    // Version 3 adds the variants of each version: an older Pixstore would keep a row's
    // variants through an update that replaced its image, so it must not write here any more.
    if (current < 3) await client.query(`ALTER TABLE ${images} ADD COLUMN variants text`)
    if (current < SCHEMA_VERSION) {
      await client.query(
        found.rows.length === 0 ? `INSERT INTO ${version} (version) VALUES ($1)` : `UPDATE ${version} SET version = $1`,
        [SCHEMA_VERSION],
      )
    }
    await client.query('COMMIT')
    return p
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  } finally {
    client.release()
  }
}
