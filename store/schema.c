/* schema.c -- the database schema as a list of forward migrations.
 *
 * Version 1 is the index every agent keeps; version 2 adds what a master
 * needs to serve slaves and what both sides need to pin keys; version 3
 * indexes live files by checksum, so a slave can copy content it already
 * holds under another name instead of receiving it again; version 4 lets
 * a failing outbox entry be set aside with a backoff; version 5 orders
 * the outbox by when an entry was made, not by its latest change; version
 * 6 lets an outbox entry wait while its slave has no room for it; version
 * 7 keeps the content-defined chunk list of each content (sync/chunk.h),
 * one packed blob per distinct SHA-256, not a row per chunk. A step
 * runs inside the transaction that also sets PRAGMA user_version, so a
 * crash leaves the database at the old or the new version, never between.
 *
 * Strings are compared bytewise (BINARY): paths are bytes, not text.
 * Times are unix seconds, mtimes nanoseconds, sizes bytes.
 */
#include "store/store_int.h"

static const char schema_v1[] =
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  value ANY"
	") STRICT;"
	"INSERT INTO meta (key, value) VALUES ('next_seq', 1), ('scan_gen', 0);"
	/* seq: one counter for the whole index (meta next_seq); a tombstone
	 * (deleted = 1) keeps the path with the seq of its deletion */
	"CREATE TABLE files ("
	"  path TEXT PRIMARY KEY NOT NULL,"
	"  type TEXT NOT NULL CHECK (type IN ('file', 'dir', 'symlink')),"
	"  size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),"
	"  mtime_ns INTEGER NOT NULL DEFAULT 0,"
	"  mode INTEGER NOT NULL DEFAULT 0,"
	"  sha256 BLOB CHECK (sha256 IS NULL OR length(sha256) = 32),"
	"  target TEXT,"
	"  seq INTEGER NOT NULL UNIQUE,"
	"  deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),"
	"  scan_gen INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	"CREATE INDEX files_live_gen ON files (scan_gen) WHERE deleted = 0;";

static const char schema_v2[] =
	"CREATE TABLE slaves ("
	"  jid TEXT PRIMARY KEY NOT NULL,"
	"  fingerprint TEXT,"
	"  state TEXT NOT NULL DEFAULT 'active'"
	"    CHECK (state IN ('active', 'removed')),"
	"  key_state TEXT NOT NULL DEFAULT 'unverified'"
	"    CHECK (key_state IN ('unverified', 'pinned', 'changed')),"
	"  applied_seq INTEGER NOT NULL DEFAULT 0,"
	"  last_seen INTEGER NOT NULL DEFAULT 0,"
	"  last_sync INTEGER NOT NULL DEFAULT 0,"
	"  added INTEGER NOT NULL"
	") STRICT;"
	/* new_*: keys offered after the pin, kept for the operator to judge */
	"CREATE TABLE peer_keys ("
	"  jid TEXT PRIMARY KEY NOT NULL,"
	"  x25519 BLOB NOT NULL CHECK (length(x25519) = 32),"
	"  ed25519 BLOB NOT NULL CHECK (length(ed25519) = 32),"
	"  first_seen INTEGER NOT NULL,"
	"  new_x25519 BLOB CHECK (new_x25519 IS NULL OR length(new_x25519) = 32),"
	"  new_ed25519 BLOB CHECK (new_ed25519 IS NULL OR length(new_ed25519) = 32),"
	"  changed_at INTEGER"
	") STRICT;"
	/* fresh: the slave does not have path; src: rename source */
	"CREATE TABLE outbox ("
	"  slave TEXT NOT NULL REFERENCES slaves (jid) ON DELETE CASCADE,"
	"  path TEXT NOT NULL,"
	"  op TEXT NOT NULL CHECK (op IN ('put', 'delete', 'mkdir', 'rmdir',"
	"    'rename', 'meta', 'symlink')),"
	"  seq INTEGER NOT NULL,"
	"  src TEXT CHECK ((op = 'rename') = (src IS NOT NULL)),"
	"  fresh INTEGER NOT NULL DEFAULT 0 CHECK (fresh IN (0, 1)),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (slave, path)"
	") STRICT;"
	"CREATE INDEX outbox_order ON outbox (slave, seq, path);"
	"CREATE INDEX outbox_src ON outbox (slave, src) WHERE src IS NOT NULL;";

static const char schema_v3[] =
	"CREATE INDEX files_live_sha256 ON files (sha256) WHERE deleted = 0;";

/* retry_at: a failing entry is set aside until then (unix seconds), so
 * that what is queued behind it proceeds; error: the last failure */
static const char schema_v4[] =
	"ALTER TABLE outbox ADD COLUMN retry_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN error TEXT;";

/* ord: where the entry stands in the order of delivery: the seq of the
 * change that created it, kept when later changes are compacted in;
 * sent: in a batch whose answer has not come (reset by a newer change) */
static const char schema_v5[] =
	"ALTER TABLE outbox ADD COLUMN ord INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN sent INTEGER NOT NULL DEFAULT 0;"
	"UPDATE outbox SET ord = seq;"
	"DROP INDEX outbox_order;"
	"CREATE INDEX outbox_order ON outbox (slave, ord, path);";

/* waiting: the slave had no room for this entry's content as of its seq
 * (a newer change compacted in resets it); not_before: unix
 * seconds before which the entry is not offered again */
static const char schema_v6[] =
	"ALTER TABLE outbox ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0"
	"  CHECK (waiting IN (0, 1));"
	"ALTER TABLE outbox ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;";

/* list: chunk_pack()'s form; only contents of CHUNK_SMALL bytes or more
 * have one. Keyed by content, so a file's versions and its copies share
 * it. seen: when it was kept, or last found live by a collection (unix
 * seconds); the list of a version no file has any more stays a while
 * (a slave may still hold that version: deltas apply to it) */
static const char schema_v7[] =
	"CREATE TABLE chunks ("
	"  sha256 BLOB PRIMARY KEY NOT NULL CHECK (length(sha256) = 32),"
	"  list BLOB NOT NULL,"
	"  seen INTEGER NOT NULL DEFAULT 0"
	") STRICT, WITHOUT ROWID;";

const struct store_migration store_migrations[] = {
	{1, schema_v1},
	{2, schema_v2},
	{3, schema_v3},
	{4, schema_v4},
	{5, schema_v5},
	{6, schema_v6},
	{7, schema_v7},
};

const int store_n_migrations =
    (int)(sizeof(store_migrations) / sizeof(store_migrations[0]));

_Static_assert(sizeof(store_migrations) / sizeof(store_migrations[0]) ==
    STORE_SCHEMA_VERSION, "one migration step per schema version");
