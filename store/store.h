/* store.h -- the SQLite state of one mirrored folder; all SQL lives here.
 *
 * One database per folder, in the state directory. It holds
 *
 *   files      the index: one record per relative path, each change stamped
 *              with a sequence number (seq) taken from one counter for the
 *              whole index, so "what changed since N" is one query; a
 *              deletion is a tombstone with its own seq, not a missing row,
 *              until every slave has applied it (store_tombstones_collect)
 *   meta       key/value state (STORE_META_* below)
 *   slaves     master side: the registered slaves and how far each got
 *   peer_keys  pinned identity keys of peers (both sides)
 *   outbox     master side: per slave, the pending operations, compacted to
 *              one entry per path (see "Outbox" below)
 *   chunks     both sides: the packed chunk list of each content (by
 *              SHA-256) of CHUNK_SMALL bytes or more, kept a while after
 *              no file has it (see "Chunk lists")
 *
 * The database runs in WAL mode with a busy timeout, foreign keys on and
 * synchronous=FULL: a commit that returned is on disk, so an ack sent after
 * it never promises more than the disk holds. The schema carries its version
 * in PRAGMA user_version and is migrated forward on open; a database written
 * by a newer xmpp-sync is refused.
 *
 * Durability rule the applier relies on: A RECORD IS WRITTEN ONLY AFTER THE
 * FILE IT DESCRIBES IS DURABLE. The store cannot check this; functions that
 * record received files (store_file_put) take the state of a file that has
 * already been fsynced and renamed into place (and its directory fsynced).
 * Then a crash leaves at worst a file without a record, which the next scan
 * picks up, never a record that promises a file that is not there.
 *
 * Errors are negative errno values; the cause is logged once here, with the
 * SQLite message. -EBUSY means another process held the database longer
 * than the busy timeout.
 *
 * Not thread-safe: one struct store per thread (SQLite handles the locking
 * between connections and processes).
 */
#ifndef XS_STORE_H
#define XS_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* The schema version this build writes; see store/schema.c. */
#define STORE_SCHEMA_VERSION 7

/* ---- open, close, transactions ------------------------------------- */

/* Opens (creating if needed) the database at path, migrates it to
 * STORE_SCHEMA_VERSION and sets *out. Returns 0, -ENOTSUP if the database
 * comes from a newer xmpp-sync (left untouched), -EIO if it is not a
 * usable SQLite database, -EBUSY, -ENOMEM. Free with store_close(). */
int store_open(const char *path, struct store **out);

/* Closes the database; an open transaction is rolled back. NULL is a
 * no-op. */
void store_close(struct store *s);

/* Starts a write transaction (BEGIN IMMEDIATE, so it never fails half-way
 * for lack of the write lock). Calls nest: an inner begin is a savepoint
 * that its rollback undoes alone. Every store function that writes more
 * than one row uses this, so each call is atomic on its own; wrap many
 * calls in one transaction to batch them (one fsync per commit).
 * Returns 0, -EBUSY or -EIO; end with store_commit() or store_rollback(). */
int store_begin(struct store *s);

/* Lazy commits (lazy = 1): from now on a commit is safe from a crash of
 * the process but not yet from one of the machine (WAL, synchronous
 * NORMAL: no fsync per commit). store_make_durable() makes every commit
 * so far durable (one fsync of the log); lazy = 0 goes back to an fsync
 * per commit. Each returns 0 or -errno. */
int store_set_lazy(struct store *s, int lazy);
int store_make_durable(struct store *s);

/* Ends the innermost transaction, keeping its changes (durable once the
 * outermost one commits). Returns 0, -EINVAL when none is open, or the
 * error of the commit (then the transaction stays open: roll it back). */
int store_commit(struct store *s);

/* Undoes the innermost transaction. Returns 0 or -EINVAL when none is
 * open. */
int store_rollback(struct store *s);

/* ---- meta ---------------------------------------------------------- */

#define STORE_META_NEXT_SEQ "next_seq"	 /* int: the seq the next change gets */
#define STORE_META_SCAN_GEN "scan_gen"	 /* int: current scan generation */
#define STORE_META_ROLE "role"		 /* "master" or "slave" */
#define STORE_META_MASTER_SEQ "master_seq" /* int, slave: master's last seq
					    * applied here */
#define STORE_META_GC_SEQ "tombstone_gc_seq" /* int: highest seq of a
					      * collected tombstone */
#define STORE_META_LOCAL_CHANGES "local_changes" /* int, slave: 1 while
					    * local changes wait for the
					    * master's state */
#define STORE_META_FIRST_SCAN_SEQ "first_scan_seq" /* int, slave: the last
					    * seq its first scan recorded,
					    * kept until the first sync ends */

/* Copies the value of key to *out. Returns 0, -ENOENT if absent, -ENOMEM.
 * The caller frees *out. */
int store_meta_dup(struct store *s, const char *key, char **out);

/* Sets key to value (inserted or replaced). Returns 0 or -errno. */
int store_meta_set(struct store *s, const char *key, const char *value);

/* Integer forms of the two above. store_meta_get_int returns -ENOENT if
 * absent, -EINVAL if the value is not an integer. */
int store_meta_get_int(struct store *s, const char *key, int64_t *out);
int store_meta_set_int(struct store *s, const char *key, int64_t value);

/* ---- file index ---------------------------------------------------- */

enum store_ftype {
	STORE_FILE = 1,
	STORE_DIR = 2,
	STORE_SYMLINK = 3,
};

/* One index record. Strings belong to whoever filled the struct: after
 * store_file_load() free them with store_file_clear(); in callbacks they
 * are borrowed and valid only during the call; a caller filling one for
 * store_file_put() keeps its own. */
struct store_file {
	const char *path;		/* relative, as checked by path_check_relative */
	enum store_ftype type;
	int64_t size;		/* bytes; 0 for directories */
	int64_t mtime_ns;	/* nanoseconds since the epoch */
	uint32_t mode;		/* permission bits (07777), no type bits */
	int has_sha256;		/* files only: sha256 is valid */
	uint8_t sha256[32];
	const char *target;	/* symlinks: the link text; else NULL */
	int64_t seq;		/* set by the store */
	int deleted;		/* tombstone: the path is gone as of seq */
};

/* The permission bits that are mirrored: rwx for everyone, and the
 * sticky bit of a directory. A slave never applies setuid or setgid, nor
 * the sticky bit of a file, so that a master cannot make the slave's
 * host run something with the slave user's rights or group; and what it
 * never applies, nobody compares: the index digest and the master's
 * reconciliation look at these bits only, else a master's setuid file
 * would be "repaired" on the slave at every round. The index itself
 * records what is on disk. Returns the bits of mode that are mirrored
 * for a record of type type. */
uint32_t store_mode_mirrored(enum store_ftype type, uint32_t mode);

enum store_change {
	STORE_UNCHANGED = 0,	/* same as the live record: no new seq */
	STORE_ADDED,		/* no live record before (new or tombstone) */
	STORE_CHANGED,		/* live record replaced */
};

/* Loads the record of path, live or tombstone, into *out. Returns 0,
 * -ENOENT if the path was never recorded (or its tombstone was
 * collected), -ENOMEM. The caller frees with
 * store_file_clear(). */
int store_file_load(struct store *s, const char *path, struct store_file *out);

/* Frees the strings of a record filled by store_file_load() and zeroes it. */
void store_file_clear(struct store_file *f);

/* Records the current state of f->path (f->seq and f->deleted are
 * ignored). If it differs from the live record the record gets the next
 * seq; an identical record keeps its seq. Either way the record is marked
 * seen by the current scan generation. For received files call it only
 * once the file is durable (see the top of this file). Sets *chg and
 * *seq (the record's seq afterwards) when not NULL. Returns 0, -EINVAL
 * (bad type, a file without checksum, a symlink without target), -errno. */
int store_file_put(struct store *s, const struct store_file *f,
    enum store_change *chg, int64_t *seq);

/* Turns the live record of path into a tombstone with the next seq.
 * Sets *seq when not NULL. Returns 0, -ENOENT if there is no live record
 * (never recorded, or already a tombstone), -errno. */
int store_file_delete(struct store *s, const char *path, int64_t *seq);

/* Calls cb for every record, tombstones included, whose seq > since, in
 * seq order. Deletions are complete only if since >= STORE_META_GC_SEQ
 * (collected tombstones are gone). A nonzero return from cb stops the
 * walk and is returned. cb must not write to the store. Returns 0, cb's
 * value, or -errno. */
int store_changes_since(struct store *s, int64_t since,
    int (*cb)(const struct store_file *f, void *arg), void *arg);

/* Calls cb for up to max live records (no tombstones) whose path sorts
 * after `after` (bytewise; NULL: from the first), in path order, so a
 * directory comes before what is below it: one page of a manifest. cb
 * must not write to the store; a nonzero return stops the walk and is
 * returned. Returns 0, cb's value, or -errno. */
int store_file_list(struct store *s, const char *after, size_t max,
    int (*cb)(const struct store_file *f, void *arg), void *arg);

/* Calls cb for every live record strictly below directory dir (not dir
 * itself), in path order. cb must not write to the store; a nonzero
 * return stops the walk and is returned. Returns 0, cb's value, or
 * -errno. */
int store_file_below(struct store *s, const char *dir,
    int (*cb)(const struct store_file *f, void *arg), void *arg);

/* Loads into *out a live file record whose checksum is sha256 (the first
 * by path if several). Returns 0, -ENOENT if there is none, -ENOMEM. The
 * caller frees with store_file_clear(). */
int store_file_load_by_sha256(struct store *s, const uint8_t sha256[32],
    struct store_file *out);

/* Sets *seq to the seq of the latest change (0 for an empty index).
 * Returns 0 or -errno. */
int store_last_seq(struct store *s, int64_t *seq);

/* Removes the tombstones with seq <= upto that nobody needs any more:
 * every active slave has applied them (applied_seq >= seq; a removed
 * slave holds nothing back, and without active slaves only upto bounds
 * it) and no pending outbox entry names the path, as the path acted on
 * or as a rename's source. Raises STORE_META_GC_SEQ to the highest seq
 * removed: below it the changes since a seq may lack deletions. Drops
 * the chunk lists no live file has had for STORE_CHUNKS_KEEP
 * (store_chunks_collect()) too. One transaction. Sets *collected (if not NULL) to the number removed.
 * Returns 0 or -errno. */
int store_tombstones_collect(struct store *s, int64_t upto,
    int64_t *collected);

/* ---- chunk lists ----------------------------------------------------
 *
 * The content-defined chunks of a content (sync/chunk.h), kept as the
 * opaque packed blob chunk_pack() writes, one per distinct SHA-256: a
 * file's previous version and every copy of it are found through the
 * files' checksums. The store does not parse the blob. */

/* Keeps list (len bytes) as the chunk list of the content sha256,
 * replacing one kept before. Returns 0 or -errno. */
int store_chunks_put(struct store *s, const uint8_t sha256[32],
    const void *list, size_t len);

/* Sets *list (the caller frees it) and *len to the chunk list of the
 * content sha256. Returns 0, -ENOENT if none is kept, -ENOMEM, -errno. */
int store_chunks_get(struct store *s, const uint8_t sha256[32],
    uint8_t **list, size_t *len);

/* Marks the lists of contents a live file has as seen now, and removes
 * the others seen last before `before` (unix seconds). Sets *collected
 * (if not NULL) to the number removed. Returns 0 or -errno. */
int store_chunks_collect(struct store *s, int64_t before,
    int64_t *collected);

/* How long the chunk list of a version no file has any more is kept by
 * store_tombstones_collect(): a slave may still hold that version, and a
 * delta needs its list. Seconds. */
#define STORE_CHUNKS_KEEP (30 * 24 * 3600)

/* ---- index digest ---------------------------------------------------
 *
 * A Merkle tree over the live records, so two indexes are compared with
 * one digest and a divergence is found by descending only where digests
 * differ. docs/protocol.md 3.1 defines every byte: a file's or symlink's
 * leaf digest covers its name, size, mirrored mode (store_mode_mirrored),
 * mtime and checksum (a symlink's: name, mtime and link text); a
 * directory's covers its mirrored mode and its children's (name, kind, digest) in bytewise order of name, not
 * its mtime. The root counts as a directory of mode 0. A record whose
 * parent directory has no live record is not part of the tree. */

#define STORE_DIGEST_LEN 32

/* A direct child of the directory being digested. */
struct store_digest_child {
	const char *name;	/* last component; borrowed for the call */
	enum store_ftype type;
	uint8_t digest[STORE_DIGEST_LEN];
};

/* What the index holds at the path asked about. */
struct store_digest {
	enum store_ftype type;	/* STORE_DIR (the root too), another type,
				 * or 0: no live record */
	uint32_t mode;		/* a directory's mirrored mode (0 for the
				 * root) */
	uint8_t digest[STORE_DIGEST_LEN]; /* the directory's digest, or the
				 * leaf digest of a file or symlink */
};

/* Computes the digest of dir (NULL or "": the root; else a checked path)
 * into *out, in one pass over the live records below it, and calls cb
 * (may be NULL) for each direct child in bytewise order of name. When dir
 * is not a directory in the index, *out says what is there and cb is not
 * called. cb must not write to the store; a nonzero return stops the walk
 * and is returned (*out is then zeroed). Returns 0, cb's value, or
 * -errno. */
int store_digest_dir(struct store *s, const char *dir, struct store_digest *out,
    int (*cb)(const struct store_digest_child *c, void *arg), void *arg);

/* ---- scans: deletion detection by generation ------------------------
 *
 * store_scan_begin() starts a new generation; every store_file_put() and
 * store_scan_seen() marks its path with it; store_scan_end() turns every
 * live record not marked into a tombstone. Records written between begin
 * and end by others (the watcher, the applier) are marked too, so they
 * are never mistaken for deletions. */

/* Starts a scan generation and sets *gen. Returns 0 or -errno. */
int store_scan_begin(struct store *s, int64_t *gen);

/* Marks path as seen by the current generation without changing it.
 * Returns 0, -ENOENT if it has no live record, -errno. */
int store_scan_seen(struct store *s, const char *path);

/* Marks every live record below directory dir (not dir itself) as seen:
 * for a directory the scan could not read, whose contents must not be
 * taken for deleted. Returns 0 or -errno. */
int store_scan_seen_below(struct store *s, const char *dir);

/* Tombstones every live record not seen since store_scan_begin() returned
 * gen, deepest paths first (children before their directory), calling cb
 * (may be NULL) with each tombstone after it is written; cb may write to
 * the store (e.g. enqueue deletes). All of it is one transaction: a
 * nonzero return from cb stops and undoes it. Sets *deleted to the number
 * of tombstones when not NULL. Returns 0, cb's nonzero value, or -errno. */
int store_scan_end(struct store *s, int64_t gen,
    int (*cb)(const struct store_file *f, void *arg), void *arg,
    int64_t *deleted);

/* ---- slaves (master side) ------------------------------------------ */

enum store_slave_state {
	STORE_SLAVE_ACTIVE = 1,
	STORE_SLAVE_REMOVED = 2,
};

enum store_key_state {
	STORE_KEY_UNVERIFIED = 1,	/* no key seen yet */
	STORE_KEY_PINNED = 2,		/* key pinned; sync allowed */
	STORE_KEY_CHANGED = 3,		/* peer offered another key: stopped */
};

/* A registered slave. Strings as for struct store_file: free with
 * store_slave_clear() after store_slave_load(); borrowed in callbacks. */
struct store_slave {
	const char *jid;	/* bare JID */
	const char *fingerprint; /* expected key fingerprint, or NULL */
	enum store_slave_state state;
	enum store_key_state key_state;
	int64_t applied_seq;	/* last master seq the slave acked */
	int64_t last_seen;	/* unix seconds, 0 = never */
	int64_t last_sync;	/* unix seconds of the last completed sync */
	int64_t added;		/* unix seconds */
};

/* Registers jid (bare, at most 2047 bytes) with an expected fingerprint
 * (NULL: pin on first contact). A removed slave is registered afresh:
 * applied seq 0, key unverified. Returns 0, -EEXIST if jid is active,
 * -EINVAL for a malformed jid, -errno. */
int store_slave_add(struct store *s, const char *jid, const char *fingerprint);

/* Marks jid removed, drops its outbox and its pinned key (a later add
 * starts trust from scratch, like deleting a known_hosts line). Returns 0,
 * -ENOENT if jid is not an active slave, -errno. */
int store_slave_remove(struct store *s, const char *jid);

/* Loads jid into *out. Returns 0, -ENOENT, -ENOMEM. The caller frees with
 * store_slave_clear(). */
int store_slave_load(struct store *s, const char *jid, struct store_slave *out);

/* Frees the strings of a record filled by store_slave_load() and zeroes it. */
void store_slave_clear(struct store_slave *sl);

#define STORE_LIST_REMOVED 1	/* store_slave_list: include removed ones */

/* Calls cb for each active slave (and removed ones with
 * STORE_LIST_REMOVED in flags), ordered by jid. cb must not write to the
 * store; a nonzero return stops the walk and is returned. Returns 0, cb's
 * value, or -errno. */
int store_slave_list(struct store *s, int flags,
    int (*cb)(const struct store_slave *sl, void *arg), void *arg);

/* Notes that jid was seen (presence) at unix time now. Returns 0, -ENOENT,
 * -errno. */
int store_slave_seen(struct store *s, const char *jid, int64_t now);

/* Records that jid applied everything up to seq, at unix time now (last
 * successful sync). applied_seq never goes backwards. Returns 0, -ENOENT,
 * -errno. */
int store_slave_applied(struct store *s, const char *jid, int64_t seq,
    int64_t now);

/* ---- pinned peer keys (both sides) --------------------------------- */

#define STORE_KEY_LEN 32

struct store_peer_key {
	uint8_t x25519[STORE_KEY_LEN];	/* pinned key agreement key */
	uint8_t ed25519[STORE_KEY_LEN];	/* pinned signature key */
	int64_t first_seen;		/* unix seconds the pin was made */
	int changed;			/* another key was offered since */
	uint8_t new_x25519[STORE_KEY_LEN];	/* that key, if changed */
	uint8_t new_ed25519[STORE_KEY_LEN];
	int64_t changed_at;		/* unix seconds, if changed */
};

/* Pins the keys of jid, replacing any earlier pin and clearing a change
 * mark (first contact, or the operator accepting a new key). A slave row
 * of jid, if any, goes to STORE_KEY_PINNED. Returns 0 or -errno. */
int store_peer_key_pin(struct store *s, const char *jid,
    const uint8_t x25519[STORE_KEY_LEN], const uint8_t ed25519[STORE_KEY_LEN]);

/* Loads the pin of jid into *out (no allocation). Returns 0, -ENOENT if
 * jid has no pinned key, -errno. */
int store_peer_key_load(struct store *s, const char *jid,
    struct store_peer_key *out);

/* Records that jid presented keys other than the pinned ones; the pin is
 * kept and a slave row of jid goes to STORE_KEY_CHANGED until the
 * operator pins again. Returns 0, -ENOENT if nothing is pinned, -errno. */
int store_peer_key_mark_changed(struct store *s, const char *jid,
    const uint8_t x25519[STORE_KEY_LEN], const uint8_t ed25519[STORE_KEY_LEN]);

/* Drops the pin of jid, so its next key is pinned on first contact (the
 * operator accepting a key change); a slave row of jid goes back to
 * STORE_KEY_UNVERIFIED. Returns 0, -ENOENT if nothing is pinned, -errno. */
int store_peer_key_forget(struct store *s, const char *jid);

/* ---- outbox (master side) -------------------------------------------
 *
 * One entry per (slave, path): the operation that brings that path on the
 * slave to the master's state. Operations are about state, not history:
 * put/mkdir/symlink mean "make path this file/directory/link, replacing
 * whatever is there", and carry the index record current when sent, with
 * its mode and mtime; meta applies mode and mtime only; delete and rmdir
 * remove whatever is at the path, a directory with everything below it
 * (after a compacted directory rename the slave's copy may still hold
 * children); rename moves src to path, then applies path's metadata.
 *
 * Enqueueing compacts against the pending entry of the same path:
 *   - writes to one path become one entry with the latest seq
 *     (put then meta stays put; meta or delete then put is put);
 *   - each entry knows whether the slave lacks the path ("fresh"): set
 *     when the first op for it carries STORE_OP_NEW (the path had no live
 *     record on the master before), unless a pending rename still has to
 *     move the slave's old copy away. Delete of a fresh path drops the
 *     entry: create then delete of a file the slave never had is nothing;
 *   - rename src->dst: of a fresh src becomes a plain create of dst; of a
 *     src with a pending put/mkdir/symlink becomes delete src + create
 *     dst (the content must travel anyway); of a pending rename a->src
 *     becomes rename a->dst (back to a: meta only); pending entries below
 *     a renamed directory move with it. Otherwise it stays a rename: a
 *     rename of a synced file is never a re-transfer;
 *   - put over a pending rename's dst: delete src + put dst; delete of it:
 *     delete src (and dst, unless fresh).
 * Entries are listed in the order they were made (ties by path, so a
 * directory comes before what is below it); a change compacted into an
 * entry keeps its place, except a removal turned back into a creation,
 * which moves to the end. An entry that was sent is no longer fresh
 * (store_outbox_sent): the slave may have the path from then on; and a
 * rename that was sent counts as applied when a later rename moves its
 * destination on (batches are applied one after another). An ack
 * removes an entry only if nothing newer was compacted into it meanwhile
 * (store_outbox_done compares seqs). */

enum store_op_kind {
	STORE_OP_PUT = 1,
	STORE_OP_DELETE,
	STORE_OP_MKDIR,
	STORE_OP_RMDIR,
	STORE_OP_RENAME,
	STORE_OP_META,
	STORE_OP_SYMLINK,
};

#define STORE_OP_NEW 1	/* enqueue flag: the path had no live record
			 * before this op (create, or rename onto nothing) */

/* A pending operation; strings borrowed, valid during the callback. */
struct store_op {
	const char *slave;
	const char *path;	/* the path acted on (rename: destination) */
	enum store_op_kind kind;
	int64_t seq;		/* seq of the latest change compacted in */
	const char *src;	/* rename: source path; else NULL */
	int fresh;		/* the slave does not have path (yet) */
	int attempts;		/* failed deliveries so far */
	int64_t retry_at;	/* set aside until then (unix s), or 0 */
	const char *error;	/* why the last delivery failed, or NULL */
	int waiting;		/* the slave has no room for it yet */
	int64_t not_before;	/* unix time before which it is not due */
};

/* Queues op kind on path for slave (src: the rename source, else NULL;
 * flags: STORE_OP_NEW), compacting as described above. path and src must
 * already be checked where they entered (see sync/path.h); the store only
 * refuses an empty one. The slave must be registered. Returns 0, -EINVAL
 * (bad kind, empty path, rename without src or of a path with a pending
 * delete), -ENOENT (unknown slave), -errno. */
int store_outbox_enqueue(struct store *s, const char *slave, const char *path,
    enum store_op_kind kind, int64_t seq, const char *src, int flags);

/* Calls cb for up to max pending entries of slave, due or not, in the
 * order of delivery (ord, then path). cb must not write to the store; a
 * nonzero return stops and is returned. Returns 0, cb's value, or
 * -errno. */
int store_outbox_next(struct store *s, const char *slave, int max,
    int (*cb)(const struct store_op *op, void *arg), void *arg);

/* The same, leaving out entries that are not due at now (unix seconds):
 * set aside by store_outbox_failed() (retry_at) or waiting for space
 * (not_before, see store_outbox_wait()) until later. What the master
 * sends. Returns as store_outbox_next(). */
int store_outbox_next_due(struct store *s, const char *slave, int max,
    int64_t now, int (*cb)(const struct store_op *op, void *arg), void *arg);

/* Waiting for space. A slave without room for the content of a put
 * answers so; the entry then waits: it stays pending (and keeps the
 * slave's "complete" back) but is not due again until not_before, so the
 * files that fit go first. A newer change of the path replaces the entry
 * and starts over; so does an ack. */

/* Marks path's entry, if its seq is still <= seq, as waiting, counts the
 * attempt and makes it due again at now + base * 2^(attempts - 1)
 * seconds (at most now + max); an entry that did not wait before starts
 * its count over and forgets a failure it was set aside for. *first = 1
 * if it did not wait before. Returns 0, -ENOENT (no such entry, or a
 * newer change came in), -errno. */
int store_outbox_wait(struct store *s, const char *slave, const char *path,
    int64_t seq, int64_t now, int64_t base, int64_t max, int *first);

/* path's entry no longer waits: the slave has room for it; its count of
 * attempts starts over. *was = 1 if it did. Returns 0 (also without an
 * entry) or -errno. */
int store_outbox_unwait(struct store *s, const char *slave, const char *path,
    int *was);

/* Every waiting entry of slave is due now (the slave reports room); they
 * stay marked as waiting. Returns 0 or -errno. */
int store_outbox_wake(struct store *s, const char *slave);

/* Calls cb for up to max waiting entries of slave, in the order of
 * delivery, and sets *total to how many wait. cb as for store_outbox_next(). Returns
 * 0, cb's value, or -errno. */
int store_outbox_waiting(struct store *s, const char *slave, int max,
    int (*cb)(const struct store_op *op, void *arg), void *arg,
    int64_t *total);

/* Acknowledges delivery of path's entry as of seq: removes it if its seq
 * is still <= seq; otherwise a newer change was compacted in and the
 * entry stays, now knowing the slave has the path. Returns 0, -ENOENT if
 * there is no entry, -errno. */
int store_outbox_done(struct store *s, const char *slave, const char *path,
    int64_t seq);

/* Notes that the entries of the n paths were sent to slave: from now on
 * the slave may have each path, whatever becomes of the delivery, so none
 * is "fresh" any more (a delete or rename that follows must reach the
 * slave instead of cancelling against the create). One transaction.
 * Returns 0 or -errno. */
int store_outbox_sent(struct store *s, const char *slave,
    const char *const *paths, size_t n);

/* Counts a failed delivery of path's entry, keeps why (a short text), and
 * sets the entry aside for a backoff that doubles with each failure (5 s,
 * 10 s, ... at most STORE_RETRY_MAX_S), so that one item that keeps
 * failing never holds up the rest. A newer change to the path starts
 * over; so does an entry that waited for space, which waits no more. Sets *delay (if not NULL) to the backoff in seconds. Returns 0,
 * -ENOENT, -errno. */
#define STORE_RETRY_MAX_S 600
int store_outbox_failed(struct store *s, const char *slave, const char *path,
    const char *why, int64_t *delay);

/* Calls cb for up to max entries of slave that failed at least once
 * (attempts, error and retry_at set) and do not wait for space, in the
 * order of delivery; for status. cb as
 * for store_outbox_next(). Returns 0, cb's value, or -errno. */
int store_outbox_failing(struct store *s, const char *slave, int max,
    int (*cb)(const struct store_op *op, void *arg), void *arg);

/* What slave still has to receive as content: *files, the pending puts,
 * and *bytes, the sum of their sizes in the index (0 for a path the index
 * no longer has live). For progress and its ETA. Returns 0 or -errno. */
int store_outbox_todo(struct store *s, const char *slave, int64_t *files,
    int64_t *bytes);

/* Sets *n to the number of pending entries of slave. Returns 0 or -errno. */
int store_outbox_count(struct store *s, const char *slave, int64_t *n);

/* Sets *n to the number of slave's entries due at now (unix seconds): not
 * set aside after a failure, not waiting for space. Returns 0 or -errno. */
int store_outbox_count_due(struct store *s, const char *slave, int64_t now,
    int64_t *n);

/* Returns 1 if slave has an entry for exactly path (due or not), 0 if
 * not, or -errno. */
int store_outbox_has(struct store *s, const char *slave, const char *path);

#endif
