/* apply.h -- the slave's applier: make the mirrored folder what the master
 * says, and record it in the slave's store once it is durable.
 *
 * The protocol glue parses operations from the network and calls these
 * functions; nothing here knows XML or XMPP. Every path comes from the
 * network, so every path is checked first: path_check_relative() (else
 * -EINVAL), none of its components one of our temp names (-EINVAL), and
 * not ignored by the slave's own patterns (-EPERM: the slave keeps its
 * hands off; the glue may acknowledge and move on). Refusals are logged
 * with the path escaped, since it may hold any byte.
 *
 * Everything is done through a directory descriptor of the root, opening
 * each parent with path_open_parent(): a symlink or a file on the way is
 * refused (-ELOOP, -ENOTDIR), so nothing outside the root is ever read,
 * written or removed, whatever is planted inside it. Symlinks are stored
 * and replaced, never followed; removals unlink a link itself.
 *
 * Order of durability: the change is made, the file or directory is
 * fsynced, then its parent directory is fsynced, and only then is the
 * store updated (store_file_put / store_file_delete, a subtree in one
 * transaction). A crash in between leaves the disk ahead of the store;
 * the master repeats an operation it has no ack for, every operation is
 * idempotent, and a repeat brings the store up to date (a rename whose
 * source is gone and whose destination exists moves the records again).
 * The slave's scan catches up with anything else.
 *
 * Modes are permission bits, of which only the mirrored ones are applied
 * (store_mode_mirrored(): rwx, and the sticky bit of a directory; never
 * setuid or setgid, and the refusal is logged), and none to symlinks,
 * which have none; ownership is never changed: everything belongs to the
 * slave's user. Mtimes are nanoseconds since the epoch, set with utimensat(2)
 * and recorded as the file system then reports them. The operations do
 * not create missing parents: the master sends directories first, and a
 * missing parent is -ENOENT.
 *
 * Received content goes through the sink (apply_put_*): into a temp file
 * named PATH_TMP_PREFIX + an id derived from (path, size, sha256) in the
 * target's directory, so an interrupted transfer of the same content is
 * found again and resumed; it is verified against the whole file's SHA-256
 * before it is renamed to its final name. The id's first half depends on
 * the path alone, so the temp files of other versions of a path are
 * recognised too (apply_temps_*: what interrupted transfers leave behind
 * is removed once no transfer will resume it).
 *
 * Runs synchronously; one struct apply per thread (the store is not
 * thread-safe). libgcrypt must be initialised first.
 */
#ifndef XS_APPLY_H
#define XS_APPLY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"
#include "sync/path.h"

struct apply;
struct apply_put;

/* Largest file apply_put_begin() accepts unless apply_set_max_size()
 * says otherwise: 1 TiB. */
#define APPLY_MAX_SIZE_DEFAULT ((uint64_t)1 << 40)

/* Opens the applier for the folder root (kept open as a directory fd),
 * recording in st (borrowed: it must outlive the applier). ignore: the
 * slave's ignore patterns (see path.h), copied. Returns 0 and sets *out,
 * -ENOMEM, or open's -errno (logged). Free with apply_free(). */
int apply_open(const char *root, struct store *st, const char *const *ignore,
    size_t nignore, struct apply **out);

/* Closes the root and frees a. NULL is a no-op. Put sessions still open
 * must be finished or aborted first. */
void apply_free(struct apply *a);

/* Sets the largest size apply_put_begin() accepts (0: the default). */
void apply_set_max_size(struct apply *a, uint64_t max);

/* ---- batches -----------------------------------------------------------
 *
 * Between apply_batch_begin() and apply_batch_end() the operations and
 * puts below do everything as usual except two things, which wait for the
 * batch's next flush: the fsync of each directory they changed, and the
 * fsync of the store's log (store_set_lazy(): each record is committed as
 * it is made, safe from a crash of the process, not yet from a crash of
 * the machine). A flush fsyncs every such directory once, then the log
 * (store_make_durable()). Nothing done in a batch may be acknowledged
 * before a flush that returned 0 covers it. After a crash of the machine
 * the store may lack a record of what is on disk, or keep one of what the
 * disk lost; the slave's scan at start finds either (see above). Batches
 * nest: an inner end flushes, the outer goes on. Each returns 0 or -errno
 * (after a failed flush, acknowledge none of the batch). */
int apply_batch_begin(struct apply *a);
int apply_batch_flush(struct apply *a);
int apply_batch_end(struct apply *a);

/* ---- metadata operations ---------------------------------------------
 *
 * Each is idempotent: applied twice, the second finds the work done and
 * only confirms the record. Each returns 0, -EINVAL or -EPERM for a
 * refused path (see the top), -ELOOP or -ENOTDIR for a symlink or file
 * in the way, -ENOENT where stated, another -errno from the file system
 * (logged), or a store error (logged by the store). */

/* Makes path a directory with mode and mtime_ns: a directory already
 * there is kept with its contents; a file or symlink there is replaced
 * (the link itself, never its target). Returns as above; -ENOENT if the
 * parent is missing. */
int apply_mkdir(struct apply *a, const char *path, uint32_t mode,
    int64_t mtime_ns);

/* Removes whatever is at path: a file or symlink (the link itself), a
 * directory with everything below it. Nothing there is success. The
 * records of path and of everything below it become tombstones. Returns
 * as above. */
int apply_delete(struct apply *a, const char *path);

/* The same as apply_delete(): the master's rmdir removes the whole
 * subtree (a compacted directory rename may have left children on the
 * slave), and whatever else is at path goes too. Returns as above. */
int apply_rmdir(struct apply *a, const char *path);

/* Renames from to to within the folder, replacing whatever is at to (a
 * directory there is removed with its subtree first), then applies mode
 * and mtime_ns to to. The records of from and of everything below it
 * move to the same place below to, keeping their checksums; what was
 * recorded at or below to is tombstoned. If from is gone but to exists,
 * this is a repeat: from's remaining records move, the metadata is
 * applied, and it succeeds. Returns as above; -ENOENT if neither exists
 * or to's parent is missing; -EINVAL if to is below from. */
int apply_rename(struct apply *a, const char *from, const char *to,
    uint32_t mode, int64_t mtime_ns);

/* Sets mode (not on a symlink) and mtime_ns of what is at path, without
 * following a symlink, and updates its record. Returns as above; -ENOENT
 * if nothing is there. */
int apply_meta(struct apply *a, const char *path, uint32_t mode,
    int64_t mtime_ns);

/* Makes path a symlink with the link text target (stored as given, even
 * if it points outside the folder: it is never followed here) and mtime
 * mtime_ns, replacing what is there (a directory with its subtree); the
 * new link appears atomically. Returns as above; -EINVAL also for an
 * empty target or one of PATH_MAX bytes or more; -ENOENT if the parent
 * is missing. */
int apply_symlink(struct apply *a, const char *path, const char *target,
    int64_t mtime_ns);

/* ---- content ---------------------------------------------------------- */

/* Whether the slave already holds exactly this content at path: a regular
 * file of size bytes whose SHA-256 is sha256 (taken from its record when
 * the record's size and mtime match the file, else read from disk). If
 * so, applies mode and mtime_ns, records it and sets *have = 1; otherwise
 * sets *have = 0 and changes nothing (also for a directory, symlink or
 * nothing at path, or a missing parent). Returns 0, -EINVAL/-EPERM for a
 * refused path, -ELOOP/-ENOTDIR for a symlink or file on the way, or
 * another -errno (logged). */
int apply_have(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns, int *have);

/* Produces path from content the slave already holds elsewhere: looks up
 * a live record with sha256 (store_file_load_by_sha256), checks that the
 * file is still as recorded, copies it through the sink (verified like a
 * transfer) and records it. Sets *done = 1 if path now holds the content,
 * 0 if there was no usable copy (nothing changed at path; the caller
 * transfers it instead). Returns 0, or an error as for apply_put_begin()
 * and apply_put_finish() other than -EBADMSG (a source that changed on
 * disk gives *done = 0). */
int apply_copy_local(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns, int *done);

/* Starts receiving path (size bytes whose SHA-256 is sha256; mode and
 * mtime_ns applied at the end). Opens the parent beneath the root and
 * creates or reopens the temp file for this (path, size, sha256) there,
 * taking an exclusive lock on it. *have_bytes gets the length of what an
 * earlier, interrupted session left in it if that is shorter than size:
 * the sender resumes there; else the temp is emptied and *have_bytes = 0.
 * Returns 0 and sets *out, -EINVAL/-EPERM for a refused path, -EFBIG if
 * size exceeds the maximum, -ENOENT if the parent is missing,
 * -ELOOP/-ENOTDIR for a symlink or file on the way, -EBUSY if another
 * session holds this temp, another -errno (all logged). End the session
 * with apply_put_finish() or apply_put_abort(). */
int apply_put_begin(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    struct apply_put **out, uint64_t *have_bytes);

/* Appends n bytes of plaintext to the temp file. Returns 0, -EFBIG if
 * they would go beyond the declared size (nothing written), or write's
 * -errno (logged). The session stays open either way. */
int apply_put_write(struct apply_put *p, const void *buf, size_t n);

/* Cuts the temp file back to its first len bytes (a resume must start at
 * a boundary the sender can encrypt from), so the next write goes at len.
 * Returns 0, -EINVAL if len is more than was written, or -errno. */
int apply_put_truncate(struct apply_put *p, uint64_t len);

/* Verifies and installs the file: its length must be the declared size
 * and the SHA-256 of the whole temp file (a resumed prefix included) the
 * declared one. Then sets mode and mtime, fsyncs it, renames it over
 * path (a directory there is removed with its subtree first), fsyncs the
 * directory and records it. Returns 0; -ENODATA if fewer bytes than
 * declared arrived (temp kept: a later session resumes it); -EBADMSG if
 * the checksum or length is wrong (temp removed, nothing at path
 * changed); another -errno (logged) or a store error. p is freed in
 * every case. */
int apply_put_finish(struct apply_put *p);

/* The first half of apply_put_finish() for a batch of files made durable
 * together: verifies the file and sets its mode and mtime, without the
 * fsync. Returns 0 (p stays open: once the caller has synced the file
 * system, apply_put_finish() installs it, or apply_put_abort() drops it),
 * or what apply_put_finish() would, p freed. */
int apply_put_ready(struct apply_put *p);

/* Ends a session without installing anything: keep = 1 leaves the temp
 * file for a later session to resume, 0 removes it. p is freed; NULL is
 * a no-op. */
void apply_put_abort(struct apply_put *p, int keep);

/* ---- bundles -----------------------------------------------------------
 *
 * Several files received as one stream: their contents one after the
 * other, in the order of f[0..n). Each goes through its own put session
 * (as above): verified against its own checksum when its last byte is in,
 * installed at once, or dropped with nothing of it left while the rest
 * goes on. The whole bundle is one batch (apply_batch_begin()), flushed at
 * the end and now and then in between. A bundle is never resumed: every
 * file starts from its first byte. */
struct apply_bundle;
struct apply_bundle_file {
	const char *path;
	uint64_t size;
	const uint8_t *sha256;
	uint32_t mode;
	int64_t mtime_ns;
};
/* All optional. start: before file k; 0 receives it, 1 skips its bytes
 * (no longer wanted), a negative errno skips it as failed. write: n bytes
 * of file k are about to be written; a negative errno drops it (e.g. no
 * room). end: file k is over: 0 installed, 1 skipped, or the negative
 * errno it failed with. */
struct apply_bundle_hooks {
	int (*start)(void *arg, size_t k);
	int (*write)(void *arg, size_t k, size_t n);
	void (*end)(void *arg, size_t k, int r);
	void *arg;
	/* file k's bytes are all in and verified; end() follows once it is
	 * installed (or failed), at the next flush (may be NULL) */
	void (*ready)(void *arg, size_t k);
};

/* Starts a bundle of f[0..n) (borrowed until it ends; h is copied).
 * Returns 0 and sets *out, or -ENOMEM. */
int apply_bundle_begin(struct apply *a, const struct apply_bundle_file *f,
    size_t n, const struct apply_bundle_hooks *h, struct apply_bundle **out);

/* The next n bytes of the stream. Returns 0 (a file that fails is
 * dropped, and the rest goes on) or -EMSGSIZE past the last file. */
int apply_bundle_write(struct apply_bundle *b, const unsigned char *p,
    size_t n);

/* Ends the bundle (b is freed). *installed (if not NULL) gets how many of
 * its files were installed. Returns 0 if every file arrived, verified,
 * and all of it is durable; -ENODATA if the stream ended early, -EBADMSG
 * if a file failed, -EIO if the last flush failed. */
int apply_bundle_finish(struct apply_bundle *b, size_t *installed);

/* Ends a bundle cut off: the file in progress is dropped; those installed
 * stay (made durable). NULL is a no-op. */
void apply_bundle_abort(struct apply_bundle *b);
/* ---- delta: a new version from the chunks already here ------------------
 *
 * A file of which the slave holds parts (an earlier version at the same
 * path, or another file: a copy, a renamed and edited file) is assembled
 * from the chunks it holds and only those it lacks, received in the
 * order of the new version's chunk list (sync/chunk.h). Each chunk, local
 * or received, is checked against its SHA-256 in that list before it is
 * written to the put's temp file; the whole file is then checked and
 * installed as by apply_put_finish(). A chunk that does not match (a
 * local file changed since its list was kept, a received chunk altered)
 * ends the session with -EBADMSG: abort it, nothing is visible, and fetch
 * the file whole. */

struct apply_delta;
struct chunk_list;

/* apply_delta_begin() flags: start from nothing even if an interrupted
 * session left a prefix (the sender decided what lacks without it). */
#define APPLY_DELTA_FRESH 1u
/* (internal) the file at path is no source */
#define APPLY_DELTA_NO_PATH 2u

/* Starts assembling path (size bytes, whose SHA-256 is sha256 and whose
 * chunks are target; mode and mtime_ns applied at the end) like
 * apply_put_begin(). Sources: the file at path and the nhints paths of
 * hints (relative; checked here; the master's guesses, e.g. a rename's
 * source), each if its live record has a kept chunk list and the file
 * still has the recorded size. A resumed prefix is cut back to a chunk
 * boundary, or dropped with APPLY_DELTA_FRESH in flags. Writes the local
 * chunks up to the first one lacking. Returns
 * 0 and sets *out; -EINVAL if target does not add up to size;
 * -EBADMSG if a local chunk is not as recorded (nothing visible: fetch
 * the file whole); or an error of apply_put_begin(). End the session
 * with apply_delta_finish() or apply_delta_abort(). */
int apply_delta_begin(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    const struct chunk_list *target, const char *const *hints,
    size_t nhints, unsigned flags, struct apply_delta **out);

/* Like apply_delta_begin(), the only source being donor
 * (apply_donor_keep()), which held the version sha256 donor_sha. -ENOENT
 * if the donor is gone or changed size. */
int apply_delta_begin_donor(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    const struct chunk_list *target, const char *donor,
    const uint8_t donor_sha[32], unsigned flags, struct apply_delta **out);

/* Donors: the master's file that a batch deletes may be the one a put of
 * the same batch was edited from (a rename and an edit that reached the
 * slave as one delete and one put). apply_donor_keep() keeps what path
 * holds, if it is the file its record describes with a kept chunk list,
 * as a hard link under a temp name at the top of the folder (no copy,
 * nothing visible; temp file clean-up removes one a crash left), and sets
 * *name (free()), sha256 and *size to that version's. Returns 0, -ENOENT
 * if path is no such file, or -errno. apply_donor_drop() removes it. */
int apply_donor_keep(struct apply *a, const char *path, char **name,
    uint8_t sha256[32], uint64_t *size);
void apply_donor_drop(struct apply *a, const char *name);

/* Returns 1 if chunk i of the target must still be received, else 0:
 * what the slave answers it lacks. */
int apply_delta_lacks(const struct apply_delta *d, size_t i);

/* Returns the bytes still to receive: the lengths of the chunks lacking
 * (less what arrived of the current one). */
uint64_t apply_delta_lacking_bytes(const struct apply_delta *d);

/* Returns the bytes of the chunks the sources lack that a resumed prefix
 * holds already (received by an earlier session). */
uint64_t apply_delta_resumed_bytes(const struct apply_delta *d);

/* Takes the next n bytes of the lacking chunks, in target order, and
 * writes every chunk completed after checking it, with the local chunks
 * that follow it. Returns 0; -EBADMSG if a received or local chunk does
 * not match its checksum (logged; abort the session); -EFBIG for bytes
 * beyond the last lacking chunk; or an error of apply_put_write(). */
int apply_delta_write(struct apply_delta *d, const void *buf, size_t n);

/* Installs the assembled file as apply_put_finish(). Returns as it;
 * -ENODATA if chunks are still lacking (the verified prefix is kept for
 * a resume). d is freed in every case. */
int apply_delta_finish(struct apply_delta *d);

/* Ends a session without installing anything; keep = 1 leaves the
 * verified prefix for a resume, 0 removes it. d is freed; NULL is a
 * no-op. */
void apply_delta_abort(struct apply_delta *d, int keep);

/* ---- temp files of interrupted transfers ------------------------------
 *
 * A transfer that is cut off keeps its temp file, so a later session of
 * the same (path, size, sha256) resumes it. The applier remembers such
 * leftovers and removes them once no session will: when the master wants
 * another version of the path or none (apply_temps_forget), and when the
 * slave is in sync with nothing left to receive (apply_temps_release).
 * Only our own temp files are touched: names starting with
 * PATH_TMP_PREFIX, regular files, beneath the root without following
 * symlinks, on the root's file system, outside ignored directories; one
 * a session holds (locked) is left alone. */

/* Age after which a leftover found at start is not worth resuming. */
#define APPLY_TEMP_MAX_AGE (24 * 3600)

struct apply_temps {
	int64_t removed;	/* temp files removed */
	int64_t bytes;		/* the bytes they held */
	int64_t kept;		/* left for a session that may resume them,
				 * or held by one */
};

/* Walks the folder and removes every temp file of ours that is empty or
 * was last written more than max_age seconds ago (max_age <= 0: every
 * one); the others are remembered as leftovers a transfer may resume.
 * For the start, when no session is open. Fills *out. Returns 0,
 * -ENOMEM, or -errno if the root cannot be read (logged); what cannot be
 * read below it is skipped. */
int apply_temps_sweep(struct apply *a, int64_t max_age,
    struct apply_temps *out);

/* The master's latest word on path (checked, as from the protocol
 * parser): it wants the version (size, sha256), or, with sha256 NULL, no
 * content at path at all (deleted, replaced, renamed). Removes the
 * leftovers of path's other versions (with sha256 NULL, of all). Fills
 * *out; failures to remove are logged. */
void apply_temps_forget(struct apply *a, const char *path, uint64_t size,
    const uint8_t *sha256, struct apply_temps *out);

/* Nothing is to be received any more (in sync with the master): removes
 * every leftover, and walks the folder for them if some could not be
 * remembered. Fills *out; failures to remove are logged. */
void apply_temps_release(struct apply *a, struct apply_temps *out);
/* ---- the slave's area: local and old versions ----------------------------
 *
 * Below PATH_AREA (".xmpp-sync", see sync/path.h) at the top of the
 * folder, which is never mirrored:
 *
 *   local/STAMP/PATH      a local version: what was on the slave and did
 *                         not come from the master (edited, created, or
 *                         there before the slave's first sync), kept when
 *                         the slave sees the change (apply_local_check())
 *                         and, for one not seen yet, before the applier
 *                         replaces or removes it;
 *   versions/PATH~STAMP   with apply_set_versions(): each file the applier
 *                         replaced or removed for the master, for a number
 *                         of days (apply_versions_expire()).
 *
 * STAMP is a UTC time, YYYYMMDDTHHMMSSZ; a name already taken by another
 * file gets ".1", ".2", ... appended. A kept file is a hard link (the same
 * inode, nothing copied) where the file system allows it, else a copy
 * with its mode and mtime; a local version met by the applier is moved
 * there instead. Directories below the area are made 0700, never through
 * a symlink. Whatever the applier replaces or removes goes through this:
 * if a local version cannot be kept, the operation fails (logged) and
 * nothing is lost; an old version that cannot be kept is only logged. */

#define APPLY_AREA_LOCAL PATH_AREA "/local"
#define APPLY_AREA_VERSIONS PATH_AREA "/versions"

/* Keeps every file the applier replaces or removes below
 * APPLY_AREA_VERSIONS for days days (0, the default: keeps none).
 * Returns nothing. */
void apply_set_versions(struct apply *a, unsigned days);

/* Records whose seq is at most seq describe what the slave had before
 * the master's first complete sync (a slave without state scans its
 * folder first): whatever the applier replaces or removes among them is
 * kept as a local version. 0, the default, turns this off. Returns
 * nothing. */
void apply_set_local_seq(struct apply *a, int64_t seq);

/* Removes the versions below APPLY_AREA_VERSIONS whose STAMP is more
 * than the days of apply_set_versions() before now, and directories left
 * empty; with versions off it removes nothing (what was kept stays for
 * the user to look at). Names without a STAMP are left alone. Sets *removed (if not NULL) to the number of versions
 * removed. Returns 0 (also when there is no such directory) or -errno
 * (logged). */
int apply_versions_expire(struct apply *a, time_t now, int64_t *removed);

/* ---- local changes ------------------------------------------------------ */

enum apply_local_kind {
	APPLY_LOCAL_MODIFIED = 1,	/* content, type or mode differ */
	APPLY_LOCAL_CREATED,		/* no live record */
	APPLY_LOCAL_DELETED,		/* recorded, gone from the disk */
};

/* Told of each local change apply_local_check() finds (path borrowed for
 * the call), before it is kept and recorded. */
typedef void (*apply_local_cb)(const char *path, enum apply_local_kind kind,
    void *arg);

/* Compares what is at path with its record. What the applier itself
 * wrote, it recorded, so it compares equal and gives nothing; anything
 * else is a local change: cb is told (once per path; a new directory is
 * one change, whatever is below it), a file, symlink or new directory is
 * kept below APPLY_AREA_LOCAL/STAMP/ (STAMP from when), and the index is
 * brought to what is on disk (a deletion tombstones the subtree; a new
 * directory is recorded with everything below it), so that a manifest
 * shows the master what differs. Files compare by type, size, mtime and
 * mode, symlinks by mtime, directories by mode (a directory's mtime
 * moves with its entries). With deep, every record and entry below path
 * ("" for the whole folder) is compared too. A record whose path is
 * ignored now is tombstoned without a word, as a scan would. path passed
 * path_check_synced() where it entered (or is ""); all of it is one
 * transaction. Returns the number of changes (>= 0), or a store error
 * from the transaction. What cannot be read or kept is logged, skipped
 * and left unrecorded, so the applier still sees it as local when it
 * comes to replace it. */
int apply_local_check(struct apply *a, const char *path, int deep,
    time_t when, apply_local_cb cb, void *arg);

/* ---- space ------------------------------------------------------------
 *
 * What the slave needs to keep its reserve (sync/space.h): the free space
 * of the folder's file system, and the resume prefixes interrupted
 * transfers left behind, which may be dropped to make room. A prefix is
 * a leftover (above) that no session holds: a running session keeps its
 * temp locked, and that one is never listed nor dropped. */

struct space_fs;

/* A kept resume prefix. */
struct apply_prefix {
	char *path;		/* the temp file, relative to the root */
	uint64_t bytes;		/* what removing it frees (its blocks) */
	int64_t mtime_ns;	/* when it was last written */
};

/* Measures the file system of the folder. Returns 0 or fstatvfs's -errno
 * (logged). */
int apply_fs(struct apply *a, struct space_fs *out);

/* Writes to out (len bytes) the path, relative to the root, of the temp
 * file that receives (path, size, sha256), and sets *have to the length
 * of the prefix an interrupted transfer left in it (0 if none, or if it
 * is not shorter than size: it would start over). path must be checked
 * (a put the master announced). Returns 0, -ENAMETOOLONG, -ENOMEM or
 * fstatat's -errno (not logged). */
int apply_put_prefix(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], char *out, size_t len, uint64_t *have);

/* Lists the kept resume prefixes: the leftovers the applier remembers
 * (see "temp files of interrupted transfers" above) that are still there
 * as regular files of one link on the root's file system, and that no
 * session holds. When it could not remember them all, it walks the folder
 * for them first, as apply_temps_sweep() does but removing none. Sets
 * *out (free with apply_prefixes_free()) and *n. Returns 0, -ENOMEM or
 * -errno if the root cannot be read (logged); a directory that cannot be
 * read is left out. */
int apply_prefixes(struct apply *a, struct apply_prefix **out, size_t *n);

/* Frees a list from apply_prefixes(). NULL is allowed. */
void apply_prefixes_free(struct apply_prefix *v, size_t n);

/* Removes the kept prefix at path (as apply_prefixes() gave it) unless a
 * session holds it now, and forgets it as a leftover; *freed gets the
 * bytes its blocks held. Returns 0, -EBUSY (in use: kept), -ENOENT (gone
 * already), -EINVAL (not one of our temp files), or another -errno
 * (logged). */
int apply_prefix_drop(struct apply *a, const char *path, uint64_t *freed);

/* ---- manifest ----------------------------------------------------------- */

/* Calls cb for up to max of the slave's live records (path, type, size,
 * mtime_ns, mode, sha256, target; strings borrowed for the call) whose
 * path sorts after `after` (bytewise; NULL: from the first), in path
 * order: one page of the manifest for a full reconciliation. The next
 * page starts after the last path seen. cb must not call into the
 * applier or write to the store; a nonzero return stops and is
 * returned. Returns 0, cb's value, or a store error. */
int apply_manifest(struct apply *a, const char *after, size_t max,
    int (*cb)(const struct store_file *f, void *arg), void *arg);

#endif
