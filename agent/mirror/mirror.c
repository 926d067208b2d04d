/* mirror/mirror.c -- see mirror.h. This file holds what both roles share: the
 * Jingle engine set-up, and end-to-end encryption of every transfer
 * (the <security/> element, docs/protocol.md section 1, and the record
 * filter). Encryption is not optional between agents: a receiver refuses
 * a transfer without a valid <security/> with security-error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/crypto/crypto.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"

static struct pending_stream *
pend_slot(struct mirror *m, const char *sid)
{
	for (size_t i = 0; i < sizeof(m->pend) / sizeof(m->pend[0]); i++)
		if (m->pend[i].cs && strcmp(m->pend[i].sid, sid) == 0)
			return &m->pend[i];
	return NULL;
}

static int
pend_put(struct mirror *m, const char *sid, struct crypto_stream *cs, int enc)
{
	for (size_t i = 0; i < sizeof(m->pend) / sizeof(m->pend[0]); i++) {
		if (m->pend[i].cs)
			continue;
		snprintf(m->pend[i].sid, sizeof(m->pend[i].sid), "%s", sid);
		m->pend[i].cs = cs;
		m->pend[i].encrypt = enc;
		return 0;
	}
	crypto_stream_free(cs);
	return -ENOSPC;
}

void
mirror_pending_drop(struct mirror *m, const char *sid)
{
	struct pending_stream *p = pend_slot(m, sid);

	if (p) {
		crypto_stream_free(p->cs);
		memset(p, 0, sizeof(*p));
	}
}

static int
make_bind(const struct jingle_info *in, xmpp_stanza_t *content,
    struct crypto_bind *b)
{
	const char *cname = xmpp_stanza_get_attribute(content, "name");

	if (cname == NULL || in->file == NULL || in->file->name == NULL)
		return -EINVAL;
	b->sid = in->sid;
	b->content = cname;
	b->name = in->file->name;
	b->size = in->file->size;
	return 0;
}

/* Sender: a fresh ephemeral key per file, signed; the envelope goes into
 * <security/> inside <content/>. */
static int
content_build(void *arg, const struct jingle_info *in, xmpp_stanza_t *content)
{
	struct mirror *m = arg;
	xmpp_ctx_t *ctx = xmpp_conn_get_context(m->env.xc);
	uint8_t x[32], e[32];
	struct crypto_bind b;
	struct crypto_envelope env;
	struct crypto_stream *cs;
	char b64[CRYPTO_ENVELOPE_B64_SIZE];
	xmpp_stanza_t *sec, *el, *txt;
	int r;

	if (peers_keys(m->env.peers, in->peer, x, e) < 0) {
		log_warn("%s: no pinned key, not sending %s", in->peer, in->file->name);
		return -EPERM;
	}
	if ((r = make_bind(in, content, &b)) < 0 ||
	    (r = crypto_file_sender_new(m->env.id, x, &b, &env, &cs)) < 0)
		return r;
	crypto_envelope_to_base64(&env, b64, sizeof(b64));
	sec = stanza_add_child(ctx, content, "security", CRYPTO_NS_JET);
	el = sec ? stanza_add_child(ctx, sec, "envelope", NULL) : NULL;
	txt = el ? xmpp_stanza_new(ctx) : NULL;
	if (txt == NULL) {
		crypto_stream_free(cs);
		return -ENOMEM;
	}
	xmpp_stanza_set_attribute(sec, "name", b.content);
	xmpp_stanza_set_attribute(sec, "cipher", CRYPTO_CIPHER_URI);
	xmpp_stanza_set_attribute(sec, "type", CRYPTO_ENVELOPE_URI);
	xmpp_stanza_set_text(txt, b64);
	xmpp_stanza_add_child(el, txt);
	xmpp_stanza_release(txt);
	return pend_put(m, in->sid, cs, 1);
}

/* Receiver: no transfer without a <security/> that verifies against the
 * PINNED master key. */
static int
content_read(void *arg, const struct jingle_info *in, xmpp_stanza_t *content)
{
	struct mirror *m = arg;
	xmpp_stanza_t *sec = xmpp_stanza_get_child_by_ns(content, CRYPTO_NS_JET);
	xmpp_stanza_t *el = sec ? xmpp_stanza_get_child_by_name(sec, "envelope") : NULL;
	const char *cipher = sec ? xmpp_stanza_get_attribute(sec, "cipher") : NULL;
	char *text = el ? xmpp_stanza_get_text(el) : NULL;
	uint8_t x[32], e[32];
	struct crypto_bind b;
	struct crypto_envelope env;
	struct crypto_stream *cs;
	int r = JINGLE_R_SECURITY_ERROR;

	if (text == NULL || cipher == NULL || strcmp(cipher, CRYPTO_CIPHER_URI) != 0) {
		log_warn("refused %s from %s: no end-to-end encryption offered",
		    in->file ? in->file->name : "a file", in->peer);
		goto out;
	}
	if (peers_keys(m->env.peers, in->peer, x, e) < 0 ||
	    make_bind(in, content, &b) < 0 ||
	    crypto_envelope_from_base64(text, &env) < 0) {
		log_warn("refused %s from %s: bad security element", in->file->name,
		    in->peer);
		goto out;
	}
	if (crypto_file_receiver_new(m->env.id, e, &b, &env, &cs) < 0) {
		log_error("refused %s from %s: its signature does not match the "
		    "pinned master key", in->file->name, in->peer);
		goto out;
	}
	r = pend_put(m, in->sid, cs, 0) < 0 ? JINGLE_R_BUSY : 0;
out:
	if (text)
		xmpp_free(xmpp_conn_get_context(m->env.xc), text);
	return r;
}

static int
buf_sink(void *arg, const void *buf, size_t len)
{
	return jingle_buf_put(arg, buf, len);
}

/* A session's record stream, and the plaintext offset it starts at
 * (a resumed transfer starts at a record boundary). */
struct filter_state {
	struct crypto_stream *cs;
	uint64_t offset;
};

static int
filter_process(void *st, const unsigned char *in, size_t n, int last,
    struct jingle_buf *out)
{
	struct filter_state *fs = st;
	int r = 0;

	if (n)
		r = crypto_stream_push(fs->cs, in, n, buf_sink, out);
	if (r == 0 && last)
		r = crypto_stream_finish(fs->cs, buf_sink, out);
	return r;
}

/* Wire bytes for the len plaintext bytes from the offset on: the records
 * from the offset's record to the end. */
static uint64_t
filter_wire_len(void *st, uint64_t len)
{
	struct filter_state *fs = st;
	uint64_t skipped = fs->offset / CRYPTO_RECORD_PLAIN * CRYPTO_RECORD_WIRE;

	return crypto_ciphertext_size(fs->offset + len) - skipped;
}

static void
filter_free(void *st)
{
	struct filter_state *fs = st;

	crypto_stream_free(fs->cs);
	free(fs);
}

static int
filter_new(void *arg, const struct jingle_info *in, struct jingle_filter *out)
{
	struct mirror *m = arg;
	struct pending_stream *p = pend_slot(m, in->sid);

	struct filter_state *fs;
	int r;

	if (p == NULL)
		return -EPERM; /* never a session without its security element */
	if (in->offset % CRYPTO_RECORD_PLAIN != 0) {
		log_warn("%s: range offset %llu is not at a record boundary",
		    in->sid, (unsigned long long)in->offset);
		return -EINVAL;
	}
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return -ENOMEM;
	if ((r = crypto_stream_start_at(p->cs, in->offset / CRYPTO_RECORD_PLAIN)) < 0) {
		free(fs);
		return r;
	}
	fs->cs = p->cs;
	fs->offset = in->offset;
	out->process = filter_process;
	out->wire_len = filter_wire_len;
	out->free = filter_free;
	out->st = fs;
	memset(p, 0, sizeof(*p)); /* the filter owns the stream now */
	return 0;
}

static void
on_done(void *arg, const struct jingle_info *in, int err,
    enum jingle_reason reason, const char *text)
{
	struct mirror *m = arg;

	(void)reason;
	(void)text;
	mirror_pending_drop(m, in->sid);
	if (in->sending) {
		if (err == 0) {
			m->files_sent++;
			/* a resumed session sends from its offset on */
			m->bytes_sent += in->file && in->file->size >
			    in->offset ? in->file->size - in->offset : 0;
		}
		mirror_master_done(m, in, err);
		return;
	}
	/* a failure needs no line here: the engine has logged how the
	 * session ended, with its reason; a success the sink has logged
	 * under the real path (the offer names an opaque one) */
	if (err == 0) {
		m->files_received++;
		m->bytes_received += in->file ? in->file->size : 0;
	}
}

/* Only peers whose pinned key was proven in this session may talk to the
 * engine; anyone else's Jingle or IBB request gets service-unavailable. */
static int
authorize(void *arg, const char *peer)
{
	struct mirror *m = arg;

	if (peer && peers_trusted(m->env.peers, peer))
		return 0;
	log_warn("refused a Jingle request from %s: not %s with a proven key; "
	    "nothing written", peer ? peer : "(no sender)",
	    m->env.cfg->role == CFG_ROLE_SLAVE ? "our master" : "a registered slave");
	return -EPERM;
}

static int
reject_offer(void *arg, const char *peer, struct jingle_file *f)
{
	(void)arg;
	log_warn("refused a file offer (%s) from %s: a master receives nothing",
	    f->name, peer);
	return JINGLE_R_DECLINE;
}

/* The <file/> of an offer names nothing: the opaque name the sealed put
 * announced, the size of the encrypted stream the transport carries (what
 * the server and a proxy count anyway, so padding the element alone would
 * hide nothing), no date and no hash. */
void
mirror_wire_file(void *arg, const struct jingle_file *f,
    struct jingle_file *wire)
{
	(void)arg;
	wire->size = crypto_ciphertext_size(f->size);
	wire->mtime = -1;
	wire->has_hash = 0;
	memset(wire->sha256, 0, sizeof(wire->sha256));
}

void
mirror_crypto_callbacks(struct mirror *m, struct jingle_callbacks *cb)
{
	cb->authorize = authorize;
	cb->content_build = content_build;
	cb->content_read = content_read;
	cb->filter_new = filter_new;
	cb->done = on_done;
	cb->arg = m;
}

static int
make_jingle(struct mirror *m)
{
	const struct cfg *c = m->env.cfg;
	struct jingle_config jc;
	struct jingle_callbacks cb;

	memset(&jc, 0, sizeof(jc));
	memset(&cb, 0, sizeof(cb));
	memcpy(jc.transports, c->transports, sizeof(jc.transports));
	jc.ntransports = c->ntransports;
	jc.max_file_size = c->max_file_size;
	/* many small files are bound by round trips, not bandwidth */
	jc.window = 32;
	/* offer what we listen on, unless told what to offer; a wildcard
	 * listener offers every interface address */
	jc.s5b_host = c->s5b_offer;
	if (jc.s5b_host == NULL && c->s5b_listen &&
	    strcmp(c->s5b_listen, "0.0.0.0") != 0 && strcmp(c->s5b_listen, "::") != 0)
		jc.s5b_host = c->s5b_listen;
	jc.s5b_listen = c->s5b_listen;
	jc.s5b_listen_port = c->s5b_listen_port;
	if (c->role == CFG_ROLE_MASTER) {
		mirror_master_source(m, &jc.source);
		cb.accept_offer = reject_offer;
		cb.wire_file = mirror_wire_file;
	} else {
		mirror_slave_sink(m, &jc.sink);
		cb.accept_offer = mirror_slave_accept;
	}
	mirror_crypto_callbacks(m, &cb);
	return jingle_new(m->env.loop, m->env.xc, &jc, &cb, &m->jingle);
}

int
mirror_new(const struct mirror_env *env, struct mirror **out)
{
	struct mirror *m = calloc(1, sizeof(*m));
	int r;

	*out = NULL;
	if (m == NULL)
		return -ENOMEM;
	m->env = *env;
	r = env->cfg->role == CFG_ROLE_MASTER ? mirror_master_new(m) :
	    mirror_slave_new(m);
	if (r == 0 && (r = make_jingle(m)) < 0)
		log_error("cannot start the file transfer engine: %s", strerror(-r));
	if (r < 0) {
		mirror_free(m);
		return r;
	}
	static const char *const features[] = {
		NS_XS_META, CRYPTO_NS_JET, CRYPTO_CIPHER_URI, CRYPTO_ENVELOPE_URI,
	};
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		service_add_feature(env->svc, features[i]);
	/* Jingle, its transports and (XEP-0300 6) the hashes */
	for (const char *const *f = jingle_features(); *f; f++)
		service_add_feature(env->svc, *f);
	/* the engine registers its own handlers for these */
	service_route_external(env->svc, JINGLE_NS);
	service_route_external(env->svc, "http://jabber.org/protocol/ibb");
	*out = m;
	return 0;
}

void
mirror_free(struct mirror *m)
{
	if (m == NULL)
		return;
	jingle_free(m->jingle);
	for (size_t i = 0; i < sizeof(m->pend) / sizeof(m->pend[0]); i++)
		crypto_stream_free(m->pend[i].cs);
	if (m->env.cfg->role == CFG_ROLE_MASTER)
		mirror_master_free(m);
	else
		mirror_slave_free(m);
	free(m);
}

void
mirror_online(struct mirror *m, const char *me)
{
	m->online = me != NULL;
	snprintf(m->me, sizeof(m->me), "%s", me ? me : "");
	jingle_online(m->jingle, me);
	if (me == NULL && m->env.cfg->role == CFG_ROLE_MASTER)
		for (size_t i = 0; i < m->nslaves; i++)
			mirror_master_peer(m, m->slaves[i]->jid, NULL, 0);
	else if (me == NULL)
		mirror_local_master(m, NULL);
}

void
mirror_peer(struct mirror *m, const char *bare, const char *full, int trusted)
{
	/* its sessions cannot go on: end them now rather than at their
	 * timeouts, so a returning peer can resume at once */
	if (!trusted && full)
		jingle_peer_gone(m->jingle, full);
	if (m->env.cfg->role == CFG_ROLE_MASTER)
		mirror_master_peer(m, bare, full, trusted);
	else {
		mirror_local_master(m, trusted ? full : NULL);
		mirror_space_peer(m, full, trusted);
	}
}

void
mirror_tick(struct mirror *m)
{
	if (m->env.cfg->role == CFG_ROLE_MASTER)
		mirror_master_tick(m);
	else {
		mirror_local_tick(m);
		mirror_space_tick(m);
	}
}

void
mirror_counters_get(const struct mirror *m, struct mirror_counters *out)
{
	*out = (struct mirror_counters){.files_sent = m->files_sent,
	    .bytes_sent = m->bytes_sent, .files_received = m->files_received,
	    .bytes_received = m->bytes_received, .ops_sent = m->ops_sent,
	    .ops_applied = m->ops_applied,
	    .file_bytes_sent = m->file_bytes_sent,
	    .deltas_sent = m->deltas_sent};
}

const char *
mirror_transfer_path(const struct mirror *m, const char *name, void *cookie)
{
	const char *p = m->env.cfg->role == CFG_ROLE_MASTER ?
	    mirror_master_xfer_path(cookie) : mirror_slave_wire_path(m, name);

	return p ? p : name;
}

const struct jingle *
mirror_jingle_get(const struct mirror *m)
{
	return m ? m->jingle : NULL;
}

size_t
mirror_status_json(const struct mirror *m, char *buf, size_t off, size_t len)
{
	off = json_addf(buf, off, len, "{\"files_sent\":%llu,\"bytes_sent\":%llu,"
	    "\"file_bytes_sent\":%llu,\"deltas_sent\":%llu,"
	    "\"files_received\":%llu,\"bytes_received\":%llu,\"ops_sent\":%llu,"
	    "\"ops_applied\":%llu,\"transfers_pending\":%u,"
	    "\"waiting_for_space\":",
	    (unsigned long long)m->files_sent, (unsigned long long)m->bytes_sent,
	    (unsigned long long)m->file_bytes_sent,
	    (unsigned long long)m->deltas_sent,
	    (unsigned long long)m->files_received,
	    (unsigned long long)m->bytes_received,
	    (unsigned long long)m->ops_sent, (unsigned long long)m->ops_applied,
	    m->jingle ? jingle_pending(m->jingle) : 0);
	off = m->env.cfg->role == CFG_ROLE_MASTER ?
	    mirror_wait_status_json(m, buf, off, len) :
	    mirror_space_status_json(m, buf, off, len);
	return json_addf(buf, off, len, "}");
}

size_t
mirror_status_text(const struct mirror *m, char *buf, size_t off, size_t len)
{
	return m->env.cfg->role == CFG_ROLE_MASTER ?
	    mirror_wait_status_text(m, buf, off, len) :
	    mirror_space_status_text(m, buf, off, len);
}
