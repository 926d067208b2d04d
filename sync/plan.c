/* plan.c -- see plan.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "sync/chunk.h"
#include "sync/hashfile.h"
#include "sync/path.h"
#include "sync/plan.h"
#include "agent/util.h"

struct plan {
	int rootfd;
	char *root;
	struct store *st;
	const char *const *ignore;
	size_t nignore;
	/* a checksum computed elsewhere (plan_path_hashed), valid while the
	 * file still has this size and mtime */
	struct {
		const char *path;
		int64_t size, mtime_ns;
		const uint8_t *sha256;
		const struct chunk_list *chunks;
	} hint;
};

/* A growable list of strings, for collecting inside store callbacks (which
 * must not write to the store). */
struct strv {
	char **v;
	int *type;
	size_t n, cap, captype;
};

static int
strv_add(struct strv *s, const char *str, int type)
{
	if (util_grow(&s->v, s->n + 1, &s->cap, 16) < 0 ||
	    util_grow(&s->type, s->n + 1, &s->captype, 16) < 0 ||
	    (s->v[s->n] = strdup(str)) == NULL)
		return -ENOMEM;
	s->type[s->n++] = type;
	return 0;
}

static void
strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->type);
	memset(s, 0, sizeof(*s));
}

int
plan_new(const char *root, struct store *st, const char *const *ignore,
    size_t nignore, struct plan **out)
{
	struct plan *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL || (p->root = strdup(root)) == NULL) {
		free(p);
		return -ENOMEM;
	}
	p->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->rootfd < 0) {
		int r = -errno;
		log_error("cannot open %s: %s", root, strerror(errno));
		free(p->root);
		free(p);
		return r;
	}
	p->st = st;
	p->ignore = ignore;
	p->nignore = nignore;
	*out = p;
	return 0;
}

void
plan_free(struct plan *p)
{
	if (p == NULL)
		return;
	close(p->rootfd);
	free(p->root);
	free(p);
}

static int
collect_slave(const struct store_slave *sl, void *arg)
{
	return strv_add(arg, sl->jid, 0);
}

/* Queues one operation for every active slave. */
static int
enqueue_all(struct plan *p, const char *path, enum store_op_kind kind,
    int64_t seq, const char *src, int flags)
{
	struct strv sl = {0};
	int r = store_slave_list(p->st, 0, collect_slave, &sl);

	for (size_t i = 0; r == 0 && i < sl.n; i++)
		r = store_outbox_enqueue(p->st, sl.v[i], path, kind, seq, src, flags);
	strv_free(&sl);
	return r;
}

static int
set_fanout(struct plan *p)
{
	int64_t last;
	int r = store_last_seq(p->st, &last);

	return r < 0 ? r : store_meta_set_int(p->st, PLAN_META_FANOUT, last);
}

static enum store_op_kind
op_for(enum store_ftype t, int deleted)
{
	if (deleted)
		return t == STORE_DIR ? STORE_OP_RMDIR : STORE_OP_DELETE;
	return t == STORE_DIR ? STORE_OP_MKDIR : t == STORE_SYMLINK ?
	    STORE_OP_SYMLINK : STORE_OP_PUT;
}

/* Fills f from what is on disk at path, reusing the stored checksum when
 * size and mtime are unchanged. Returns 0, -ENOENT if nothing is there,
 * -ENOTSUP for other file types, -EAGAIN if the file changed while it was
 * hashed, or -errno. f->path is borrowed. */
static int
read_disk(struct plan *p, const char *path, struct store_file *f,
    char *target, size_t tlen)
{
	struct store_file old;
	struct chunk_list chunks = {0};
	struct hashfile h;
	struct stat sb;
	int r;

	memset(f, 0, sizeof(*f));
	f->path = (char *)path;
	if (fstatat(p->rootfd, path, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	f->mtime_ns = util_ts_ns(sb.st_mtim);
	f->mode = sb.st_mode & 07777;
	if (S_ISDIR(sb.st_mode)) {
		f->type = STORE_DIR;
		return 0;
	}
	if (S_ISLNK(sb.st_mode)) {
		ssize_t n = readlinkat(p->rootfd, path, target, tlen - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		f->type = STORE_SYMLINK;
		f->target = target;
		return 0;
	}
	if (!S_ISREG(sb.st_mode))
		return -ENOTSUP;
	f->type = STORE_FILE;
	f->size = sb.st_size;
	f->has_sha256 = 1;
	if (p->hint.path && strcmp(p->hint.path, path) == 0 &&
	    p->hint.size == f->size && p->hint.mtime_ns == f->mtime_ns) {
		memcpy(f->sha256, p->hint.sha256, 32);
		return p->hint.chunks ? chunk_record(p->st, f->sha256,
		    p->hint.chunks) : 0;
	}
	if (store_file_load(p->st, path, &old) == 0) {
		int same = !old.deleted && old.type == STORE_FILE &&
		    old.has_sha256 && old.size == f->size &&
		    old.mtime_ns == f->mtime_ns;
		if (same)
			memcpy(f->sha256, old.sha256, 32);
		store_file_clear(&old);
		if (same)
			return 0;
	}
	if ((r = hashfile_at_chunks(p->rootfd, path, &sb, &h, &chunks)) == 0) {
		memcpy(f->sha256, h.sha256, 32);
		r = chunk_record(p->st, f->sha256, &chunks);
	}
	chunk_list_clear(&chunks);
	return r;
}

struct prefix_ctx {
	const char *dir;
	size_t len;
	struct strv out;
	int err;
};

static int
collect_below(const struct store_file *f, void *arg)
{
	struct prefix_ctx *c = arg;

	if (f->deleted || strncmp(f->path, c->dir, c->len) != 0 ||
	    f->path[c->len] != '/')
		return 0;
	return strv_add(&c->out, f->path, f->type);
}

/* Live records strictly below dir, in seq order. */
static int
records_below(struct plan *p, const char *dir, struct strv *out)
{
	struct prefix_ctx c = {.dir = dir, .len = strlen(dir)};
	int r = store_changes_since(p->st, 0, collect_below, &c);

	*out = c.out;
	return r;
}

/* path is gone: tombstone it and everything below, deepest first. */
static int
record_gone(struct plan *p, const char *path)
{
	struct store_file old;
	struct strv below = {0};
	int64_t seq;
	int r;

	if (store_file_load(p->st, path, &old) < 0)
		return 0; /* never recorded */
	int was_dir = !old.deleted && old.type == STORE_DIR, live = !old.deleted;
	store_file_clear(&old);
	if (!live)
		return 0;
	if (was_dir && (r = records_below(p, path, &below)) < 0)
		return r;
	r = 0;
	for (size_t i = below.n; r == 0 && i-- > 0;) {
		if ((r = store_file_delete(p->st, below.v[i], &seq)) == -ENOENT)
			r = 0;
		else if (r == 0)
			r = enqueue_all(p, below.v[i], op_for(below.type[i], 1), seq,
			    NULL, 0);
	}
	strv_free(&below);
	if (r == 0 && (r = store_file_delete(p->st, path, &seq)) == 0)
		r = enqueue_all(p, path, was_dir ? STORE_OP_RMDIR :
		    STORE_OP_DELETE, seq, NULL, 0);
	return r;
}

/* Whether the live record of f->path has the same type and content as f
 * (so only its metadata can differ). */
static int
same_content(struct plan *p, const struct store_file *f)
{
	struct store_file old;
	int same;

	if (store_file_load(p->st, f->path, &old) < 0)
		return 0;
	same = !old.deleted && old.type == f->type;
	if (same && f->type == STORE_FILE)
		same = old.size == f->size && old.has_sha256 &&
		    memcmp(old.sha256, f->sha256, 32) == 0;
	if (same && f->type == STORE_SYMLINK)
		same = old.target && f->target && strcmp(old.target, f->target) == 0;
	store_file_clear(&old);
	return same;
}

static int
record_path(struct plan *p, const char *path)
{
	struct store_file f;
	enum store_change chg;
	char target[4096];
	int64_t seq;
	int r, meta_only;

	r = read_disk(p, path, &f, target, sizeof(target));
	if (r == -ENOENT || r == -ENOTDIR)
		return record_gone(p, path);
	if (r == -ENOTSUP)
		return 0; /* sockets, fifos, devices are not mirrored */
	if (r == -EAGAIN) {
		/* its checksum would describe no state it had; the watcher
		 * reports the write that changed it */
		log_info("not recording %s yet: it changed while being read",
		    path);
		return 0;
	}
	if (r < 0) {
		log_warn("cannot read %s/%s: %s; will retry at the next scan",
		    p->root, path, strerror(-r));
		return 0;
	}
	meta_only = same_content(p, &f);
	if ((r = store_file_put(p->st, &f, &chg, &seq)) < 0 || chg == STORE_UNCHANGED)
		return r;
	/* only mode or mtime changed: a meta operation, which also leaves a
	 * pending rename of the path a rename (it applies the metadata) */
	return enqueue_all(p, path, meta_only ? STORE_OP_META : op_for(f.type, 0),
	    seq, NULL, chg == STORE_ADDED ? STORE_OP_NEW : 0);
}

/* Whether the index has a live directory record for path. Returns 1 or
 * 0. */
static int
live_dir(struct plan *p, const char *path)
{
	struct store_file f;
	int yes;

	if (store_file_load(p->st, path, &f) < 0)
		return 0;
	yes = !f.deleted && f.type == STORE_DIR;
	store_file_clear(&f);
	return yes;
}

/* Records what is in directory dir now and pushes its subdirectories on
 * todo. Names the border would refuse or the ignore rules cover are left
 * out, as the watcher leaves them out. Returns 0 or a negative errno. */
static int
record_entries(struct plan *p, const char *dir, struct strv *todo)
{
	char child[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if ((fd = path_open_beneath(p->rootfd, dir, O_RDONLY | O_DIRECTORY,
	    0)) < 0)
		return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -errno;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		int is_dir = de->d_type == DT_DIR;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    path_join(child, sizeof(child), dir, de->d_name) < 0 ||
		    plan_path_check(p, child, is_dir) < 0)
			continue;
		/* a directory the index has keeps its record: its mtime
		 * moves whenever an entry is added, which is no news */
		if (!(is_dir && live_dir(p, child)))
			r = record_path(p, child);
		if (r == 0 && is_dir)
			r = strv_add(todo, child, 0);
	}
	closedir(d);
	return r;
}

/* Records path and, for a directory, everything below it: a directory
 * that appears under a name the index never knew (the target of a
 * rename whose source was not recorded) brings its content with it.
 * Returns 0 or a negative errno. */
static int
record_tree(struct plan *p, const char *path)
{
	struct strv todo = {0};
	int r = record_path(p, path);

	if (r == 0 && (r = strv_add(&todo, path, 0)) == 0)
		for (size_t i = 0; r == 0 && i < todo.n; i++)
			r = record_entries(p, todo.v[i], &todo);
	strv_free(&todo);
	return r;
}

static int
plan_tree_changed(struct plan *p, const char *path)
{
	int r;

	if ((r = store_begin(p->st)) < 0)
		return r;
	if ((r = record_tree(p, path)) == 0)
		r = set_fanout(p);
	if (r < 0) {
		store_rollback(p->st);
		return r;
	}
	return store_commit(p->st);
}

int
plan_path_changed(struct plan *p, const char *path)
{
	int r;

	if ((r = store_begin(p->st)) < 0)
		return r;
	if ((r = record_path(p, path)) == 0)
		r = set_fanout(p);
	if (r < 0) {
		store_rollback(p->st);
		return r;
	}
	return store_commit(p->st);
}

/* Moves the record of one path to another, keeping content and metadata
 * (a rename changes neither). Returns 0, -ENOENT if from has no live
 * record, or -errno. */
static int
move_record(struct plan *p, const char *from, const char *to, int64_t *seq)
{
	struct store_file f;
	int r;

	if ((r = store_file_load(p->st, from, &f)) < 0)
		return r;
	if (f.deleted) {
		store_file_clear(&f);
		return -ENOENT;
	}
	const char *old = f.path;
	f.path = to;
	r = store_file_delete(p->st, from, NULL);
	if (r == 0)
		r = store_file_put(p->st, &f, NULL, seq);
	f.path = old;
	store_file_clear(&f);
	return r;
}

static int
rename_records(struct plan *p, const char *from, const char *to)
{
	struct strv below = {0};
	struct store_file old;
	size_t flen = strlen(from);
	char np[PATH_MAX];
	int64_t seq = 0;
	int r, flags = STORE_OP_NEW;

	/* a rename onto nothing creates `to` (STORE_OP_NEW): the store then
	 * knows the slave lacks it, so a later delete of it costs nothing */
	if (store_file_load(p->st, to, &old) == 0) {
		if (!old.deleted)
			flags = 0;
		store_file_clear(&old);
	}
	if ((r = records_below(p, from, &below)) < 0)
		return r;
	if ((r = move_record(p, from, to, &seq)) < 0)
		goto out;
	for (size_t i = 0; r == 0 && i < below.n; i++) {
		if (path_join(np, sizeof(np), to, below.v[i] + flen + 1) < 0) {
			log_warn("cannot record the rename of %s to %s: a path "
			    "below it would be too long", from, to);
			r = -ENAMETOOLONG;
		} else if ((r = move_record(p, below.v[i], np, NULL)) == -ENOENT)
			r = 0;
	}
	/* the slave renames the whole subtree with one operation */
	if (r == 0)
		r = enqueue_all(p, to, STORE_OP_RENAME, seq, from, flags);
	/* a rename may also change what is at `to` (mtime of a file moved
	 * with touch in between), and a directory may hold what no event
	 * ever reported (a file written into it in the moment between its
	 * creation and its watch, then moved with it): bring the records of
	 * the whole subtree up to date; unchanged ones cost a stat */
	if (r == 0)
		r = record_tree(p, to);
out:
	strv_free(&below);
	return r;
}

int
plan_path_check(const struct plan *p, const char *path, int is_dir)
{
	if (path_check_synced(path) < 0)
		return -EINVAL;
	return path_ignored(p->ignore, p->nignore, path, is_dir) ? -EPERM : 0;
}

int
plan_admit(const struct plan *p, const char *path, int is_dir)
{
	int r = plan_path_check(p, path, is_dir);

	if (r == -EINVAL)
		log_warn("not mirroring %s: the name is too long or one of our "
		    "temp file names", path);
	return r == 0;
}

int
plan_event_renamed(struct plan *p, const char *from, const char *to,
    int is_dir)
{
	int in_from = plan_admit(p, from, is_dir);
	int in_to = plan_admit(p, to, is_dir);

	if (in_from && in_to)
		return plan_renamed(p, from, to);
	if (in_from)
		return plan_path_changed(p, from);
	if (in_to)
		return plan_path_changed(p, to);
	return 0;
}

int
plan_hash_needed(struct plan *p, const char *path, int64_t *size)
{
	struct store_file old;
	struct stat sb;
	int64_t mt;
	int need = 1;

	if (fstatat(p->rootfd, path, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(sb.st_mode))
		return 0;
	mt = util_ts_ns(sb.st_mtim);
	if (store_file_load(p->st, path, &old) == 0) {
		need = old.deleted || old.type != STORE_FILE || !old.has_sha256 ||
		    old.size != sb.st_size || old.mtime_ns != mt;
		store_file_clear(&old);
	}
	*size = sb.st_size;
	return need;
}

int
plan_path_hashed(struct plan *p, const char *path, int64_t size,
    int64_t mtime_ns, const uint8_t sha256[32],
    const struct chunk_list *chunks)
{
	struct stat sb;
	int r;

	if (fstatat(p->rootfd, path, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return plan_path_changed(p, path); /* gone: record that */
	if (!S_ISREG(sb.st_mode) || sb.st_size != size ||
	    util_ts_ns(sb.st_mtim) != mtime_ns)
		return -EAGAIN; /* changed while being hashed */
	p->hint.path = path;
	p->hint.size = size;
	p->hint.mtime_ns = mtime_ns;
	p->hint.sha256 = sha256;
	p->hint.chunks = chunks;
	r = plan_path_changed(p, path);
	memset(&p->hint, 0, sizeof(p->hint));
	return r;
}

int
plan_rootfd(const struct plan *p)
{
	return p->rootfd;
}

int
plan_renamed(struct plan *p, const char *from, const char *to)
{
	struct store_file f;
	int r, known;

	known = store_file_load(p->st, from, &f) == 0 && !f.deleted;
	if (known)
		store_file_clear(&f);
	if (!known) {
		/* nothing to move on the slaves: treat as delete + create,
		 * with everything a directory holds (the index has none of
		 * it under the new name, and the watcher reports only the
		 * rename) */
		if ((r = plan_path_changed(p, from)) < 0)
			return r;
		return plan_tree_changed(p, to);
	}
	if ((r = store_begin(p->st)) < 0)
		return r;
	if ((r = rename_records(p, from, to)) == 0)
		r = set_fanout(p);
	if (r < 0) {
		store_rollback(p->st);	/* the cause is logged where it arose */
		return r;
	}
	return store_commit(p->st);
}

struct change {
	char *path;
	enum store_ftype type;
	int deleted;
	int64_t seq;
};

struct changes {
	struct change *v;
	size_t n, cap;
};

static int
collect_change(const struct store_file *f, void *arg)
{
	struct changes *c = arg;

	if (util_grow(&c->v, c->n + 1, &c->cap, 256) < 0)
		return -ENOMEM;
	if ((c->v[c->n].path = strdup(f->path)) == NULL)
		return -ENOMEM;
	c->v[c->n].type = f->type;
	c->v[c->n].deleted = f->deleted;
	c->v[c->n++].seq = f->seq;
	return 0;
}

int
plan_fanout(struct plan *p)
{
	struct changes c = {0};
	int64_t since = 0;
	int r;

	if ((r = store_meta_get_int(p->st, PLAN_META_FANOUT, &since)) < 0 &&
	    r != -ENOENT)
		return r;
	if ((r = store_changes_since(p->st, since, collect_change, &c)) < 0)
		goto out;
	if ((r = store_begin(p->st)) < 0)
		goto out;
	for (size_t i = 0; r == 0 && i < c.n; i++)
		r = enqueue_all(p, c.v[i].path, op_for(c.v[i].type, c.v[i].deleted),
		    c.v[i].seq, NULL, 0);
	if (r == 0)
		r = set_fanout(p);
	if (r < 0)
		store_rollback(p->st);
	else
		r = store_commit(p->st);
out:
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].path);
	free(c.v);
	return r;
}

struct records {
	struct plan_entry *v;
	int64_t *seq;
	size_t n, cap, capseq;
};

static int
collect_live(const struct store_file *f, void *arg)
{
	struct records *c = arg;
	struct plan_entry *e;

	if (f->deleted)
		return 0;
	if (util_grow(&c->v, c->n + 1, &c->cap, 256) < 0 ||
	    util_grow(&c->seq, c->n + 1, &c->capseq, 256) < 0)
		return -ENOMEM;
	e = &c->v[c->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(f->path);
	e->target = f->target ? strdup(f->target) : NULL;
	if (e->path == NULL || (f->target && e->target == NULL)) {
		free(e->path);
		return -ENOMEM;
	}
	e->type = f->type;
	e->size = f->size;
	e->mtime_ns = f->mtime_ns;
	e->mode = f->mode;
	e->has_sha256 = f->has_sha256;
	memcpy(e->sha256, f->sha256, 32);
	c->seq[c->n++] = f->seq;
	return 0;
}

static int
by_path(const void *a, const void *b)
{
	return strcmp(((const struct plan_entry *)a)->path,
	    ((const struct plan_entry *)b)->path);
}

void
plan_entries_clear(struct plan_entry *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].path);
		free(m[i].target);
	}
}

/* What brings the slave's entry s (NULL: none) to the master's m: 0 when
 * nothing is needed. */
static enum store_op_kind
reconcile_op(const struct plan_entry *m, const struct plan_entry *s)
{
	if (s == NULL || s->type != m->type)
		return op_for(m->type, 0);
	if (m->type == STORE_FILE && (s->size != m->size || !s->has_sha256 ||
	    memcmp(s->sha256, m->sha256, 32) != 0))
		return STORE_OP_PUT;
	if (m->type == STORE_SYMLINK && (s->target == NULL || m->target == NULL ||
	    strcmp(s->target, m->target) != 0))
		return STORE_OP_SYMLINK;
	if (m->type == STORE_SYMLINK)
		return s->mtime_ns != m->mtime_ns ? STORE_OP_SYMLINK : 0;
	/* the slave's mode as it is, against what it may apply of ours */
	if (s->mode != store_mode_mirrored(m->type, m->mode) ||
	    (m->type == STORE_FILE && s->mtime_ns != m->mtime_ns))
		return m->type == STORE_DIR ? STORE_OP_MKDIR : STORE_OP_META;
	return 0;
}

int
plan_reconcile(struct plan *p, const char *slave, const struct plan_entry *m,
    size_t n, int delete_extras, int64_t *queued)
{
	struct records mine = {0};
	struct plan_entry *theirs = NULL;
	int64_t last = 0, q = 0;
	int r;

	if (n && (theirs = malloc(n * sizeof(*theirs))) == NULL)
		return -ENOMEM;
	if (n)
		memcpy(theirs, m, n * sizeof(*theirs)); /* shallow: strings shared */
	if (n)
		qsort(theirs, n, sizeof(*theirs), by_path);
	if ((r = store_changes_since(p->st, 0, collect_live, &mine)) < 0 ||
	    (r = store_last_seq(p->st, &last)) < 0 || (r = store_begin(p->st)) < 0)
		goto out;
	for (size_t i = 0; r == 0 && i < mine.n; i++) {
		const struct plan_entry *s = n ? bsearch(&mine.v[i], theirs, n,
		    sizeof(*theirs), by_path) : NULL;
		enum store_op_kind k = reconcile_op(&mine.v[i], s);
		if (k == 0)
			continue;
		r = store_outbox_enqueue(p->st, slave, mine.v[i].path, k,
		    mine.seq[i], NULL, s ? 0 : STORE_OP_NEW);
		q++;
	}
	if (mine.n) /* seq[] is unused from here on */
		qsort(mine.v, mine.n, sizeof(*mine.v), by_path);
	for (size_t i = 0; r == 0 && delete_extras && i < n; i++) {
		if (mine.n && bsearch(&theirs[i], mine.v, mine.n, sizeof(*mine.v), by_path))
			continue;
		r = store_outbox_enqueue(p->st, slave, theirs[i].path,
		    theirs[i].type == STORE_DIR ? STORE_OP_RMDIR : STORE_OP_DELETE,
		    last, NULL, 0);
		q++;
	}
	if (r < 0)
		store_rollback(p->st);
	else
		r = store_commit(p->st);
out:
	plan_entries_clear(mine.v, mine.n);
	free(mine.v);
	free(mine.seq);
	free(theirs);
	if (queued)
		*queued = q;
	return r;
}

/* The highest seq among path's record and those below it. */
static int64_t
max_seq(int64_t seq, const struct records *below)
{
	for (size_t i = 0; i < below->n; i++)
		if (below->seq[i] > seq)
			seq = below->seq[i];
	return seq;
}

/* Queues the master's record f, and the records below it. They all get
 * the highest seq among them: the outbox lists ties by path, so a
 * directory goes before what is below it even when it changed last. */
static int
repair_live(struct plan *p, const char *slave, const struct store_file *f,
    int subtree, int64_t *queued)
{
	struct records below = {0};
	int64_t seq;
	int r = 0;

	if (subtree && (r = store_file_below(p->st, f->path, collect_live,
	    &below)) < 0)
		goto out;
	seq = max_seq(f->seq, &below);
	if ((r = store_begin(p->st)) < 0)
		goto out;
	r = store_outbox_enqueue(p->st, slave, f->path, op_for(f->type, 0), seq,
	    NULL, 0);
	for (size_t i = 0; r == 0 && i < below.n; i++)
		r = store_outbox_enqueue(p->st, slave, below.v[i].path,
		    op_for(below.v[i].type, 0), seq, NULL, 0);
	if (r < 0)
		store_rollback(p->st);
	else if ((r = store_commit(p->st)) == 0)
		*queued = 1 + (int64_t)below.n;
out:
	plan_entries_clear(below.v, below.n);
	free(below.v);
	free(below.seq);
	return r;
}

int
plan_repair(struct plan *p, const char *slave, const char *path,
    enum store_ftype theirs, int delete_extras, int64_t *queued)
{
	struct store_file f;
	int64_t last;
	int r, live;

	*queued = 0;
	if ((r = store_file_load(p->st, path, &f)) == -ENOENT)
		live = r = 0;
	else if (r < 0)
		return r;
	else {
		if ((live = !f.deleted))
			r = repair_live(p, slave, &f, f.type == STORE_DIR &&
			    theirs != STORE_DIR, queued);
		store_file_clear(&f);
	}
	if (live || theirs == 0 || !delete_extras)
		return r;
	if ((r = store_last_seq(p->st, &last)) < 0 ||
	    (r = store_outbox_enqueue(p->st, slave, path, op_for(theirs, 1),
	    last, NULL, 0)) < 0)
		return r;
	*queued = 1;
	return 0;
}
