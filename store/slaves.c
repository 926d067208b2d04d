/* slaves.c -- the slaves a master serves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define SLAVE_COLS "jid, fingerprint, state, key_state, applied_seq," \
	" last_seen, last_sync, added"
#define JID_MAX 2047	/* RFC 7622: local 1023 + "@" + domain 1023 bytes */

static const char *const key_states[] = {
	[STORE_KEY_UNVERIFIED] = "unverified", [STORE_KEY_PINNED] = "pinned",
	[STORE_KEY_CHANGED] = "changed",
};

/* A slave's JID: non-empty, bounded, no control characters; bare, or full
 * (one daemon of an account that runs several) with a non-empty resource
 * after the domain. */
static int
jid_valid(const char *jid)
{
	size_t n = jid ? strlen(jid) : 0;
	const char *at = n ? strchr(jid, '@') : NULL, *slash;

	if (n == 0 || n > JID_MAX + 1024 || at == NULL)
		return 0;
	if ((slash = strchr(jid, '/')) != NULL &&
	    (slash < at || slash == at + 1 || slash[1] == '\0' ||
	    strchr(slash + 1, '/') != NULL))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)jid[i] < 0x20 || jid[i] == 0x7f)
			return 0;
	return 1;
}

static void
row_to_slave(sqlite3_stmt *st, struct store_slave *sl)
{
	const char *ks = (const char *)sqlite3_column_text(st, 3);

	memset(sl, 0, sizeof(*sl));
	sl->jid = (const char *)sqlite3_column_text(st, 0);
	sl->fingerprint = (const char *)sqlite3_column_text(st, 1);
	sl->state = strcmp((const char *)sqlite3_column_text(st, 2),
	    "active") == 0 ? STORE_SLAVE_ACTIVE : STORE_SLAVE_REMOVED;
	sl->key_state = STORE_KEY_UNVERIFIED;
	for (int i = STORE_KEY_UNVERIFIED; i <= STORE_KEY_CHANGED; i++)
		if (ks && strcmp(ks, key_states[i]) == 0)
			sl->key_state = (enum store_key_state)i;
	sl->applied_seq = sqlite3_column_int64(st, 4);
	sl->last_seen = sqlite3_column_int64(st, 5);
	sl->last_sync = sqlite3_column_int64(st, 6);
	sl->added = sqlite3_column_int64(st, 7);
}

void
store_slave_clear(struct store_slave *sl)
{
	free((char *)sl->jid);
	free((char *)sl->fingerprint);
	memset(sl, 0, sizeof(*sl));
}

int
store_slave_load(struct store *s, const char *jid, struct store_slave *out)
{
	sqlite3_stmt *st;
	struct store_slave sl;
	int r, err = 0;

	if ((r = store_prepare(s, "SELECT " SLAVE_COLS " FROM slaves"
	    " WHERE jid = ?1", &st)) < 0)
		return r;
	store_bind_text(st, 1, jid);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -ENOENT;
	row_to_slave(st, &sl);
	*out = sl;
	out->jid = store_col_dup(st, 0, &err);
	out->fingerprint = store_col_dup(st, 1, &err);
	store_finalize(s, st);
	if (err < 0)
		store_slave_clear(out);
	return err;
}

/* Inserts jid, or revives it if removed; fails if active. */
static int
slave_upsert(struct store *s, const char *jid, const char *fingerprint)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "INSERT INTO slaves (jid, fingerprint, added)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (jid) DO UPDATE SET"
	    "  fingerprint = ?2, state = 'active', key_state = 'unverified',"
	    "  applied_seq = 0, last_seen = 0, last_sync = 0, added = ?3"
	    " WHERE state = 'removed'", &st)) < 0)
		return r;
	store_bind_text(st, 1, jid);
	store_bind_text(st, 2, fingerprint);
	sqlite3_bind_int64(st, 3, store_now());
	if ((r = store_step_done(s, st)) == 0 && sqlite3_changes(s->db) == 0)
		r = -EEXIST;
	return r;
}

int
store_slave_add(struct store *s, const char *jid, const char *fingerprint)
{
	if (!jid_valid(jid))
		return -EINVAL;
	return slave_upsert(s, jid, fingerprint);
}

static int
exec_jid(struct store *s, const char *sql, const char *jid)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, sql, &st)) < 0)
		return r;
	store_bind_text(st, 1, jid);
	return store_step_done(s, st);
}

int
store_slave_remove(struct store *s, const char *jid)
{
	int r;

	if ((r = store_begin(s)) < 0)
		return r;
	r = exec_jid(s, "UPDATE slaves SET state = 'removed'"
	    " WHERE jid = ?1 AND state = 'active'", jid);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	if (r == 0)
		r = exec_jid(s, "DELETE FROM outbox WHERE slave = ?1", jid);
	if (r == 0)
		r = exec_jid(s, "DELETE FROM peer_keys WHERE jid = ?1", jid);
	return store_end(s, r);
}

int
store_slave_list(struct store *s, int flags,
    int (*cb)(const struct store_slave *sl, void *arg), void *arg)
{
	sqlite3_stmt *st;
	struct store_slave sl;
	int r;

	if ((r = store_prepare(s, "SELECT " SLAVE_COLS " FROM slaves"
	    " WHERE state = 'active' OR ?1 ORDER BY jid", &st)) < 0)
		return r;
	sqlite3_bind_int(st, 1, (flags & STORE_LIST_REMOVED) != 0);
	while ((r = store_step_row(s, st)) == 1) {
		row_to_slave(st, &sl);
		if ((r = cb(&sl, arg)) != 0) {
			store_finalize(s, st);
			return r;
		}
	}
	return r;
}

static int
slave_update(struct store *s, const char *sql, const char *jid, int64_t a,
    int64_t b)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, sql, &st)) < 0)
		return r;
	store_bind_text(st, 1, jid);
	sqlite3_bind_int64(st, 2, a);
	sqlite3_bind_int64(st, 3, b);
	if ((r = store_step_done(s, st)) == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

int
store_slave_seen(struct store *s, const char *jid, int64_t now)
{
	return slave_update(s, "UPDATE slaves SET last_seen = ?2"
	    " WHERE jid = ?1 AND state = 'active'", jid, now, 0);
}

int
store_slave_applied(struct store *s, const char *jid, int64_t seq,
    int64_t now)
{
	return slave_update(s, "UPDATE slaves SET"
	    " applied_seq = max(applied_seq, ?2), last_sync = ?3"
	    " WHERE jid = ?1 AND state = 'active'", jid, seq, now);
}

int
store_slave_key_state(struct store *s, const char *jid,
    enum store_key_state ks)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "UPDATE slaves SET key_state = ?2"
	    " WHERE jid = ?1", &st)) < 0)
		return r;
	store_bind_text(st, 1, jid);
	store_bind_text(st, 2, key_states[ks]);
	return store_step_done(s, st);
}
