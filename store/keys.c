/* keys.c -- pinned identity keys of peers (known_hosts for JIDs). */
#include <errno.h>
#include <string.h>

#include "store/store_int.h"

static int
key_write(struct store *s, const char *sql, const char *jid,
    const uint8_t x[STORE_KEY_LEN], const uint8_t ed[STORE_KEY_LEN])
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, sql, &st)) < 0)
		return r;
	store_bind_text(st, 1, jid);
	sqlite3_bind_blob(st, 2, x, STORE_KEY_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, ed, STORE_KEY_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, store_now());
	if ((r = store_step_done(s, st)) == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

int
store_peer_key_pin(struct store *s, const char *jid,
    const uint8_t x25519[STORE_KEY_LEN], const uint8_t ed25519[STORE_KEY_LEN])
{
	int r;

	if ((r = store_begin(s)) < 0)
		return r;
	/* pinning the same key again keeps the time it was first seen */
	r = key_write(s, "INSERT INTO peer_keys (jid, x25519, ed25519,"
	    " first_seen) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (jid) DO UPDATE"
	    " SET first_seen = CASE WHEN x25519 = ?2 AND ed25519 = ?3"
	    "  THEN first_seen ELSE ?4 END, x25519 = ?2, ed25519 = ?3,"
	    "  new_x25519 = NULL, new_ed25519 = NULL, changed_at = NULL",
	    jid, x25519, ed25519);
	if (r == 0)
		r = store_slave_key_state(s, jid, STORE_KEY_PINNED);
	return store_end(s, r);
}

int
store_peer_key_mark_changed(struct store *s, const char *jid,
    const uint8_t x25519[STORE_KEY_LEN], const uint8_t ed25519[STORE_KEY_LEN])
{
	int r;

	if ((r = store_begin(s)) < 0)
		return r;
	r = key_write(s, "UPDATE peer_keys SET new_x25519 = ?2,"
	    " new_ed25519 = ?3, changed_at = ?4 WHERE jid = ?1",
	    jid, x25519, ed25519);
	if (r == 0)
		r = store_slave_key_state(s, jid, STORE_KEY_CHANGED);
	return store_end(s, r);
}

static void
copy_key(uint8_t dst[STORE_KEY_LEN], sqlite3_stmt *st, int col)
{
	if (sqlite3_column_bytes(st, col) == STORE_KEY_LEN)
		memcpy(dst, sqlite3_column_blob(st, col), STORE_KEY_LEN);
}

int
store_peer_key_load(struct store *s, const char *jid,
    struct store_peer_key *out)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT x25519, ed25519, first_seen,"
	    " new_x25519, new_ed25519, changed_at FROM peer_keys"
	    " WHERE jid = ?1", &st)) < 0)
		return r;
	store_bind_text(st, 1, jid);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -ENOENT;
	memset(out, 0, sizeof(*out));
	copy_key(out->x25519, st, 0);
	copy_key(out->ed25519, st, 1);
	out->first_seen = sqlite3_column_int64(st, 2);
	out->changed = sqlite3_column_type(st, 5) != SQLITE_NULL;
	if (out->changed) {
		copy_key(out->new_x25519, st, 3);
		copy_key(out->new_ed25519, st, 4);
		out->changed_at = sqlite3_column_int64(st, 5);
	}
	store_finalize(s, st);
	return 0;
}

int
store_peer_key_forget(struct store *s, const char *jid)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_begin(s)) < 0)
		return r;
	if ((r = store_prepare(s, "DELETE FROM peer_keys WHERE jid = ?1",
	    &st)) == 0) {
		store_bind_text(st, 1, jid);
		if ((r = store_step_done(s, st)) == 0 && sqlite3_changes(s->db) == 0)
			r = -ENOENT;
	}
	if (r == 0) {
		r = store_slave_key_state(s, jid, STORE_KEY_UNVERIFIED);
		if (r == -ENOENT)
			r = 0; /* a slave's master has no slave row */
	}
	return store_end(s, r);
}
