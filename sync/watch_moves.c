/* watch_moves.c -- pairs IN_MOVED_FROM with IN_MOVED_TO into one rename,
 * on the event loop thread. A file whose pair does not come within
 * WATCH_MOVE_MS was moved out of the folder and becomes a delete. For a
 * directory the watcher thread decides, because it has to unwatch it
 * first: it pairs the halves itself and queues a "moved out" record
 * (watch_move_gone()) when none comes; WATCH_DIR_MOVE_MS is only a
 * backstop. See watch_int.h. */
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"
#include "sync/watch_int.h"

static void
move_free(struct watch *w, struct watch_move *m, struct watch_move *prev)
{
	if (prev)
		prev->next = m->next;
	else
		w->mhead = m->next;
	if (w->mtail == m)
		w->mtail = prev;
	w->nmoves--;
	free(m->path);
	free(m);
}

/* A MOVED_FROM whose MOVED_TO never came: the entry left the folder. */
static void
move_expire(struct watch *w, struct watch_move *m, struct watch_move *prev)
{
	watch_emit(w, WATCH_DELETED, m->path, NULL, m->is_dir);
	watch_pend_drop(w, m->path, m->is_dir);
	move_free(w, m, prev);
}

void
watch_moves_expire_due(struct watch *w, int64_t now)
{
	for (struct watch_move *m = w->mhead, *prev = NULL, *n; m; m = n) {
		n = m->next;
		if (m->due <= now)
			move_expire(w, m, prev);
		else
			prev = m;
	}
}

/* The watcher thread says the directory that moved with cookie left the
 * folder (and is unwatched). */
void
watch_move_gone(struct watch *w, uint32_t cookie)
{
	for (struct watch_move *m = w->mhead, *prev = NULL; m;
	    prev = m, m = m->next) {
		if (m->cookie == cookie) {
			move_expire(w, m, prev);
			return;
		}
	}
}

/* Returns the earliest deadline of an open move, or -1. */
int64_t
watch_moves_next_due(const struct watch *w)
{
	int64_t t = -1;

	for (const struct watch_move *m = w->mhead; m; m = m->next)
		if (t < 0 || m->due < t)
			t = m->due;
	return t;
}

/* Something new appears at path: an earlier move away from path is over. */
void
watch_moves_expire_at(struct watch *w, const char *path)
{
	for (struct watch_move *m = w->mhead, *prev = NULL, *n; m; m = n) {
		n = m->next;
		if (strcmp(m->path, path) == 0)
			move_expire(w, m, prev);
		else
			prev = m;
	}
}

void
watch_move_add(struct watch *w, const char *path, uint32_t cookie, int is_dir)
{
	struct watch_move *m;

	if (w->npend + w->nmoves >= w->max_pending && w->mhead)
		move_expire(w, w->mhead, NULL);
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->path = strdup(path)) == NULL) {
		free(m);
		log_error("cannot track move of %s: out of memory", path);
		w->want_rescan = 1;
		return;
	}
	m->cookie = cookie;
	m->is_dir = is_dir;
	m->due = watch_now_ms() + (is_dir ? WATCH_DIR_MOVE_MS : WATCH_MOVE_MS);
	if (w->mtail)
		w->mtail->next = m;
	else
		w->mhead = m;
	w->mtail = m;
	w->nmoves++;
}

/* Takes the MOVED_FROM with this cookie out of the list. Returns its path
 * (caller frees) or NULL. */
char *
watch_move_take(struct watch *w, uint32_t cookie)
{
	for (struct watch_move *m = w->mhead, *prev = NULL; m;
	    prev = m, m = m->next) {
		if (m->cookie != cookie)
			continue;
		char *path = m->path;
		m->path = NULL;
		move_free(w, m, prev);
		return path;
	}
	return NULL;
}

void
watch_moves_clear(struct watch *w)
{
	while (w->mhead)
		move_free(w, w->mhead, NULL);
}
