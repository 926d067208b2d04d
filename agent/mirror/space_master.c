/* mirror/space_master.c -- files a slave has no room for.
 *
 * A slave answers "space" to a put whose content would eat into its
 * reserve (min_free; docs/protocol.md, "sync"). The entry then waits in
 * the outbox (store_outbox_wait): it stays pending, but is not offered
 * again for WAIT_FIRST_S, then twice as long each time, at most
 * WAIT_MAX_S, so the files that fit go first and a full disk costs one
 * small request now and then, not a transfer that fails over and over.
 * When the slave finds room again it says so with a <space/> request,
 * and every waiting file is due with the next batch; so it is when the
 * slave comes back online. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/json.h"
#include "agent/log.h"
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"

#define WAIT_FIRST_S 30
#define WAIT_MAX_S 300
#define STATUS_MAX_FILES 100	/* per slave, in status */

/* An attribute of r as a number; 0 when missing or not one. */
static uint64_t
attr_u64(xmpp_stanza_t *r, const char *name)
{
	const char *v = xmpp_stanza_get_attribute(r, name);
	char *end;
	unsigned long long n;

	if (v == NULL || v[0] < '0' || v[0] > '9' || strlen(v) > 20)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	return errno || *end ? 0 : (uint64_t)n;
}

/* Batch entry i waits for space; r is the slave's answer. */
static void
wait_note(struct mirror *m, struct mslave *ms, size_t i, xmpp_stanza_t *r)
{
	int first = 0, e;

	ms->space_free = attr_u64(r, "free");
	ms->space_min = attr_u64(r, "min");
	e = store_outbox_wait(m->env.st, ms->jid, ms->batch[i].path,
	    ms->batch[i].seq, (int64_t)time(NULL), WAIT_FIRST_S, WAIT_MAX_S,
	    &first);
	if (e < 0 && e != -ENOENT)
		log_error("cannot record that %s waits for space on %s: %s",
		    ms->batch[i].path, ms->jid, strerror(-e));
	if (first)
		log_warn("%s has no room for %s (%llu bytes): %llu bytes free, "
		    "min_free %llu; other files go first", ms->jid,
		    ms->batch[i].path, (unsigned long long)ms->batch[i].size,
		    (unsigned long long)ms->space_free,
		    (unsigned long long)ms->space_min);
}

int
mirror_wait_answer(struct mirror *m, struct mslave *ms, size_t i,
    xmpp_stanza_t *r, const char *s)
{
	int was = 0;

	if (strcmp(s, "space") == 0 && ms->batch[i].kind == STORE_OP_PUT) {
		wait_note(m, ms, i, r);
		return 1;
	}
	if ((strcmp(s, "ok") == 0 || strcmp(s, "need") == 0) &&
	    ms->batch[i].kind == STORE_OP_PUT &&
	    store_outbox_unwait(m->env.st, ms->jid, ms->batch[i].path,
	    &was) == 0 && was)
		log_info("%s has room for %s now", ms->jid, ms->batch[i].path);
	return 0;
}

void
mirror_wait_wake(struct mirror *m, struct mslave *ms)
{
	int r = store_outbox_wake(m->env.st, ms->jid);

	if (r < 0)
		log_error("cannot retry the files waiting for space on %s: %s",
		    ms->jid, strerror(-r));
}

void
mirror_wait_space(struct mirror *m, struct mslave *ms, xmpp_stanza_t *q)
{
	ms->space_free = attr_u64(q, "free");
	ms->space_min = attr_u64(q, "min");
	log_debug("%s reports room (%llu bytes free): the files waiting for "
	    "it are due", ms->jid, (unsigned long long)ms->space_free);
	/* the next tick's batch carries them */
	mirror_wait_wake(m, ms);
}

/* ---- status ---------------------------------------------------------- */

struct status_ctx {
	const struct mirror *m;
	const struct mslave *ms;
	char *buf;
	size_t off, len;
	int json;
	const char *sep;
};

/* Appends one waiting file, as JSON or as a line. */
static int
status_one(const struct store_op *op, void *arg)
{
	struct status_ctx *c = arg;
	struct store_file f;
	long long size = -1, left = op->not_before - (int64_t)time(NULL);

	if (store_file_load(c->m->env.st, op->path, &f) == 0) {
		size = f.size;
		store_file_clear(&f);
	}
	if (!c->json) {
		c->off = json_addf(c->buf, c->off, c->len, "waiting for space on "
		    "%s: %s, %lld bytes (%llu free, min_free %llu)\n", c->ms->jid,
		    op->path, size, (unsigned long long)c->ms->space_free,
		    (unsigned long long)c->ms->space_min);
		return 0;
	}
	c->off = json_addf(c->buf, c->off, c->len, "%s{\"slave\":", c->sep);
	c->off = json_str(c->buf, c->off, c->len, c->ms->jid);
	c->off = json_addf(c->buf, c->off, c->len, ",\"path\":");
	c->off = json_str(c->buf, c->off, c->len, op->path);
	c->off = json_addf(c->buf, c->off, c->len, ",\"size\":%lld,\"free\":%llu,"
	    "\"min_free\":%llu,\"next_try_s\":%lld}", size,
	    (unsigned long long)c->ms->space_free,
	    (unsigned long long)c->ms->space_min, left > 0 ? left : 0);
	c->sep = ",";
	return 0;
}

/* Appends the waiting files of every slave; a slave with more than
 * STATUS_MAX_FILES gets a line (text) saying how many more. */
static size_t
status_all(const struct mirror *m, char *buf, size_t off, size_t len,
    int json)
{
	struct status_ctx c = {.m = m, .buf = buf, .off = off, .len = len,
	    .json = json, .sep = ""};
	int64_t total = 0;

	for (size_t i = 0; i < m->nslaves; i++) {
		c.ms = m->slaves[i];
		if (store_outbox_waiting(m->env.st, c.ms->jid, STATUS_MAX_FILES,
		    status_one, &c, &total) == 0 && !json &&
		    total > STATUS_MAX_FILES)
			c.off = json_addf(buf, c.off, len, "waiting for space on "
			    "%s: %lld more files\n", c.ms->jid,
			    (long long)(total - STATUS_MAX_FILES));
	}
	return c.off;
}

size_t
mirror_wait_status_json(const struct mirror *m, char *buf, size_t off,
    size_t len)
{
	off = json_addf(buf, off, len, "[");
	off = status_all(m, buf, off, len, 1);
	return json_addf(buf, off, len, "]");
}

size_t
mirror_wait_status_text(const struct mirror *m, char *buf, size_t off,
    size_t len)
{
	return status_all(m, buf, off, len, 0);
}
