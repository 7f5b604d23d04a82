// In-code migrations for both engines (Kysely Migrator). Append new migrations
// with a sortable name; never edit an applied one. Types are chosen to mean the
// same on SQLite and PostgreSQL: text, integer, bigint (ms timestamps).
import type { Kysely, Migration, MigrationProvider } from 'kysely';

const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema.createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createTable('tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();
      await db.schema.createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('x25519', 'text', (c) => c.notNull())
        .addColumn('ed25519', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('devices_user').on('devices').column('user_id').execute();
      await db.schema.createTable('contacts')
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('peer_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('contacts_pk', ['owner_id', 'peer_id'])
        .execute();
      await db.schema.createIndex('contacts_peer').on('contacts').columns(['peer_id', 'state']).execute();
      await db.schema.createTable('presence')
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('candidates', 'text', (c) => c.notNull())
        .addColumn('nat', 'text')
        .addColumn('supernode', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('presence_user').on('presence').column('user_id').execute();
      await db.schema.createTable('supernodes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('capacity', 'integer', (c) => c.notNull())
        .addColumn('load', 'integer', (c) => c.notNull())
        .addColumn('registered_at', 'bigint', (c) => c.notNull())
        .addColumn('last_heartbeat', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('supernodes_heartbeat').on('supernodes').column('last_heartbeat').execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ['supernodes', 'presence', 'contacts', 'devices', 'tokens', 'users']) await db.schema.dropTable(t).execute();
    },
  },
  '0002_contacts_updated_at': {
    // Last-Modified of a contact list must move forward even when a contact is
    // removed, so each user keeps the time of the last change to their list.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('contacts_updated_at', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('users').dropColumn('contacts_updated_at').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() { return migrations; },
};
