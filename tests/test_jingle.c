/* test_jingle.c -- the Jingle engine without a server: stanza parsing and
 * building for every action, error replies to malformed and out-of-order
 * requests, dst.addr, IBB sequence numbers and base64, the SOCKS5
 * handshakes over loopback, the path rule, and the default file sink. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "agent/jingle/jingle_int.h"
#include "agent/jingle/jingle.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "tests/testutil.h"
#include "tests/unit.h"

#define ALICE "alice@example.org/a"
#define BOB "bob@example.org/b"
#define HASH_EMPTY "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

static xmpp_ctx_t *
ctx_get(void)
{
	static xmpp_ctx_t *ctx;

	if (ctx == NULL) {
		xmpp_initialize();
		ctx = xmpp_ctx_new(NULL, NULL);
	}
	return ctx;
}

static xmpp_stanza_t *
from_xml(const char *xml)
{
	return xmpp_stanza_new_from_string(ctx_get(), xml);
}

/* ---- dst.addr, IBB seq, base64, path rule ---- */

static int
t_dstaddr_matches_sha1sum(void)
{
	char out[S5B_DST_LEN + 1];

	/* printf '%s' 'vj3hs98yromeo@montague.example/dr4hcr0st3lup4c'\
	 *   'juliet@capulet.example/balcony' | sha1sum */
	s5b_dstaddr("vj3hs98y", "romeo@montague.example/dr4hcr0st3lup4c",
	    "juliet@capulet.example/balcony", out);
	const char *got = out;
	EXPECT_STR(got, "4c2ebc3ebfb489ed2e6f221be7af8a1e48a987b7");
	return 0;
}

static int
t_ibb_seq_wraps_after_65535(void)
{
	unsigned char buf[16];
	struct ibb_msg m;
	char err[64];
	xmpp_stanza_t *iq;

	EXPECT_INT(ibb_seq_next(0), 1);
	EXPECT_INT(ibb_seq_next(65534), 65535);
	EXPECT_INT(ibb_seq_next(65535), 0);
	iq = ibb_data_new(ctx_get(), BOB, "s1", 65535,
	    (const unsigned char *)"abc", 3);
	EXPECT(iq != NULL, "build");
	xmpp_stanza_set_from(iq, ALICE);
	EXPECT_INT(ibb_parse(iq, buf, sizeof(buf), &m, err, sizeof(err)), 0);
	EXPECT_INT(m.kind, IBB_DATA);
	EXPECT_INT(m.seq, 65535);
	EXPECT_INT(m.len, 3);
	EXPECT(memcmp(buf, "abc", 3) == 0, "data");
	xmpp_stanza_release(iq);
	iq = from_xml("<iq type='set'><data xmlns='http://jabber.org/protocol/ibb'"
	    " sid='s' seq='65536'>AAAA</data></iq>");
	EXPECT_INT(ibb_parse(iq, buf, sizeof(buf), &m, err, sizeof(err)), -EINVAL);
	xmpp_stanza_release(iq);
	return 0;
}

static int
t_ibb_base64_strict(void)
{
	unsigned char out[8];

	EXPECT_INT(ibb_b64_decode("aGVsbG8=", 8, out, sizeof(out)), 5);
	EXPECT(memcmp(out, "hello", 5) == 0, "decoded");
	EXPECT_INT(ibb_b64_decode("aGVs\nbG8=", 9, out, sizeof(out)), 5);
	EXPECT_INT(ibb_b64_decode("aGVsbG8", 7, out, sizeof(out)), -EINVAL);
	EXPECT_INT(ibb_b64_decode("aG!sbG8=", 8, out, sizeof(out)), -EINVAL);
	EXPECT_INT(ibb_b64_decode("aGVs=G8=", 8, out, sizeof(out)), -EINVAL);
	EXPECT_INT(ibb_b64_decode("aGVsbG8gd29ybGQ=", 16, out, sizeof(out)),
	    -EMSGSIZE);
	return 0;
}

static int
t_path_rule(void)
{
	static const struct { const char *p; int ok; } cases[] = {
		{"a", 1}, {"a/b/c.txt", 1}, {".hidden", 1}, {"a/..b", 1},
		{"", 0}, {"/etc/passwd", 0}, {"..", 0}, {"../x", 0},
		{"a/../b", 0}, {"a/..", 0}, {"./a", 0}, {"a//b", 0}, {"a/", 0},
		{"a\\b", 0}, {"a\nb", 0}, {"a/./b", 0},
	};
	char longp[JINGLE_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT((jingle_path_check(cases[i].p) == 0) == cases[i].ok,
		    "path '%s'", cases[i].p);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	EXPECT_INT(jingle_path_check(longp), -EINVAL);
	return 0;
}

/* ---- parsing and building ---- */

static int
t_parse_session_initiate_s5b(void)
{
	xmpp_stanza_t *iq = from_xml("<iq type='set' from='" ALICE "'><jingle "
	    "xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='S1' "
	    "initiator='" ALICE "'><content creator='initiator' name='f' "
	    "senders='initiator'><description xmlns='urn:xmpp:jingle:apps:"
	    "file-transfer:5'><file><name>dir/a.txt</name><size>6144</size>"
	    "<date>2015-07-26T21:46:00Z</date><hash xmlns='urn:xmpp:hashes:2' "
	    "algo='sha-256'>" HASH_EMPTY "</hash></file></description>"
	    "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='T1' "
	    "mode='tcp' dstaddr='abc'><candidate cid='c1' host='192.0.2.1' "
	    "jid='" ALICE "' port='5086' priority='8257636' type='direct'/>"
	    "<candidate cid='c2' host='proxy.example' jid='proxy.example' "
	    "port='7777' priority='655360' type='proxy'/></transport>"
	    "</content></jingle></iq>");
	struct jingle_msg *m = malloc(sizeof(*m));
	char err[128];

	EXPECT(iq && m, "setup");
	EXPECT_INT(jingle_xml_parse(iq, m, err, sizeof(err)), 0);
	EXPECT_INT(m->action, JA_SESSION_INITIATE);
	const char *sid = m->sid, *ini = m->initiator, *tsid = m->tr.sid;
	EXPECT_STR(sid, "S1");
	EXPECT_STR(ini, ALICE);
	EXPECT_INT(m->senders, 1);
	EXPECT_STR(m->file.name, "dir/a.txt");
	EXPECT_INT(m->file.size, 6144);
	EXPECT_INT(m->file.mtime, 1437947160);
	EXPECT_INT(m->file.has_hash, 1);
	EXPECT_INT(m->file.sha256[0], 0xe3);
	EXPECT_INT(m->tr.type, JT_S5B);
	EXPECT_STR(tsid, "T1");
	EXPECT_INT(m->tr.ncands, 2);
	EXPECT_INT(m->tr.cands[0].port, 5086);
	EXPECT_INT(m->tr.cands[1].type, JC_PROXY);
	EXPECT_INT(m->tr.cands[1].priority, 655360);
	free(m);
	xmpp_stanza_release(iq);
	return 0;
}

/* Builds action a with transport t and reason r, parses it back. */
static int
roundtrip(enum jingle_action a, const struct jingle_transport *t,
    enum jingle_reason r, const uint64_t *range, struct jingle_msg *m)
{
	struct jingle_file f = {.name = (char *)"x/y.bin", .size = 42,
	    .mtime = 1000000000, .has_hash = 1};
	xmpp_stanza_t *jn, *c, *iq;
	char err[128];
	int rc;

	memset(f.sha256, 7, 32);
	iq = jingle_xml_iq(ctx_get(), BOB, a, "SID", ALICE, NULL, &jn);
	if (iq == NULL)
		return -ENOMEM;
	if (t) {
		c = jingle_xml_add_content(jn, "f");
		if (a == JA_SESSION_INITIATE || a == JA_SESSION_ACCEPT)
			jingle_xml_add_file(c, &f, range);
		jingle_xml_add_transport(c, t);
	}
	if (r)
		jingle_xml_add_reason(jn, r, "why not");
	rc = jingle_xml_parse(iq, m, err, sizeof(err));
	xmpp_stanza_release(iq);
	return rc;
}

static int
t_build_parse_every_action(void)
{
	struct jingle_msg *m = malloc(sizeof(*m));
	struct jingle_transport *t = calloc(1, sizeof(*t));
	uint64_t off = 17;

	EXPECT(m && t, "alloc");
	t->type = JT_S5B;
	snprintf(t->sid, sizeof(t->sid), "T");
	snprintf(t->dstaddr, sizeof(t->dstaddr), "d");
	t->ncands = 1;
	snprintf(t->cands[0].cid, JX_CID_MAX, "c1");
	snprintf(t->cands[0].host, JX_HOST_MAX, "127.0.0.1");
	snprintf(t->cands[0].jid, JX_JID_MAX, ALICE);
	t->cands[0].port = 1234;
	t->cands[0].priority = 100;
	t->cands[0].type = JC_DIRECT;
	EXPECT_INT(roundtrip(JA_SESSION_INITIATE, t, 0, NULL, m), 0);
	EXPECT_INT(m->action, JA_SESSION_INITIATE);
	EXPECT_STR(m->file.name, "x/y.bin");
	EXPECT_INT(m->file.size, 42);
	EXPECT_INT(m->file.mtime, 1000000000);
	EXPECT_INT(m->file.sha256[31], 7);
	EXPECT_INT(m->tr.cands[0].port, 1234);
	EXPECT_INT(m->has_range, 0);
	EXPECT_INT(roundtrip(JA_SESSION_ACCEPT, t, 0, &off, m), 0);
	EXPECT_INT(m->has_range, 1);
	EXPECT_INT(m->range_offset, 17);
	t->ncands = 0;
	t->has_used = 1;
	snprintf(t->used_cid, sizeof(t->used_cid), "c9");
	EXPECT_INT(roundtrip(JA_TRANSPORT_INFO, t, 0, NULL, m), 0);
	EXPECT_INT(m->tr.has_used, 1);
	const char *used = m->tr.used_cid;
	EXPECT_STR(used, "c9");
	t->has_used = 0;
	t->has_activated = 1;
	snprintf(t->activated_cid, sizeof(t->activated_cid), "c8");
	EXPECT_INT(roundtrip(JA_TRANSPORT_INFO, t, 0, NULL, m), 0);
	const char *act = m->tr.activated_cid;
	EXPECT_STR(act, "c8");
	t->has_activated = 0;
	t->cand_error = 1;
	EXPECT_INT(roundtrip(JA_TRANSPORT_INFO, t, 0, NULL, m), 0);
	EXPECT_INT(m->tr.cand_error, 1);
	t->cand_error = 0;
	t->proxy_error = 1;
	EXPECT_INT(roundtrip(JA_TRANSPORT_INFO, t, 0, NULL, m), 0);
	EXPECT_INT(m->tr.proxy_error, 1);
	memset(t, 0, sizeof(*t));
	t->type = JT_IBB;
	snprintf(t->sid, sizeof(t->sid), "I");
	t->block_size = 8192;
	for (enum jingle_action a = JA_TRANSPORT_REPLACE; a <= JA_TRANSPORT_REJECT;
	    a++) {
		EXPECT_INT(roundtrip(a, t, 0, NULL, m), 0);
		EXPECT_INT(m->action, a);
		EXPECT_INT(m->tr.type, JT_IBB);
		EXPECT_INT(m->tr.block_size, 8192);
	}
	for (int r = JINGLE_R_SUCCESS; r < JINGLE_R_COUNT; r++) {
		EXPECT_INT(roundtrip(JA_SESSION_TERMINATE, NULL,
		    (enum jingle_reason)r, NULL, m), 0);
		EXPECT_INT(m->reason, r);
		const char *text = m->reason_text;
		EXPECT_STR(text, "why not");
	}
	EXPECT_INT(roundtrip(JA_SESSION_INFO, NULL, 0, NULL, m), 0);
	EXPECT_INT(m->action, JA_SESSION_INFO);
	free(m);
	free(t);
	return 0;
}

static int
t_parse_rejects_malformed(void)
{
	static const struct { const char *name, *inner; int rc; } cases[] = {
		{"missing sid", "action='session-info'", -EINVAL},
		{"missing action", "sid='s'", -EINVAL},
		{"unknown action", "action='session-dance' sid='s'", -ENOTSUP},
		{"bad port", "action='transport-info' sid='s'><content name='f'>"
		    "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='t'>"
		    "<candidate cid='c' host='h' jid='j' port='99999' priority='1'/>"
		    "</transport></content", -EINVAL},
		{"port zero", "action='transport-info' sid='s'><content name='f'>"
		    "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='t'>"
		    "<candidate cid='c' host='h' jid='j' port='0' priority='1'/>"
		    "</transport></content", -EINVAL},
		{"port text", "action='transport-info' sid='s'><content name='f'>"
		    "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='t'>"
		    "<candidate cid='c' host='h' jid='j' port='8o' priority='1'/>"
		    "</transport></content", -EINVAL},
		{"negative size", "action='session-initiate' sid='s'><content "
		    "name='f'><description xmlns='urn:xmpp:jingle:apps:file-"
		    "transfer:5'><file><size>-1</size></file></description>"
		    "</content", -EINVAL},
		{"short hash", "action='session-initiate' sid='s'><content "
		    "name='f'><description xmlns='urn:xmpp:jingle:apps:file-"
		    "transfer:5'><file><hash xmlns='urn:xmpp:hashes:2' "
		    "algo='sha-256'>AAAA</hash></file></description></content",
		    -EINVAL},
		{"two contents", "action='session-info' sid='s'><content "
		    "name='a'/><content name='b'/", -EINVAL},
		{"bad ibb block", "action='transport-replace' sid='s'><content "
		    "name='f'><transport xmlns='urn:xmpp:jingle:transports:ibb:1' "
		    "sid='i' block-size='70000'/></content", -EINVAL},
	};
	struct jingle_msg *m = malloc(sizeof(*m));
	char xml[2048], err[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(xml, sizeof(xml), "<iq type='set'><jingle xmlns="
		    "'urn:xmpp:jingle:1' %s></jingle></iq>", cases[i].inner);
		xmpp_stanza_t *iq = from_xml(xml);
		EXPECT(iq != NULL, "xml for %s", cases[i].name);
		EXPECT(jingle_xml_parse(iq, m, err, sizeof(err)) == cases[i].rc,
		    "%s: want %d", cases[i].name, cases[i].rc);
		EXPECT(err[0] != '\0', "%s: a reason", cases[i].name);
		xmpp_stanza_release(iq);
	}
	free(m);
	return 0;
}

/* ---- the engine's replies, without a server ---- */

struct out {
	char *text[64];
	int n;
};

static void
capture(void *arg, xmpp_stanza_t *st)
{
	struct out *o = arg;
	size_t len;

	if (o->n < 64 && xmpp_stanza_to_text(st, &o->text[o->n], &len) == 0)
		o->n++;
}

static void
out_clear(struct out *o)
{
	for (int i = 0; i < o->n; i++)
		xmpp_free(ctx_get(), o->text[i]);
	o->n = 0;
}

static int
out_has(const struct out *o, const char *a, const char *b)
{
	for (int i = 0; i < o->n; i++)
		if (strstr(o->text[i], a) && (b == NULL || strstr(o->text[i], b)))
			return 1;
	return 0;
}

struct rig {
	struct loop *l;
	struct jingle *j;
	struct out o;
	char dir[64];
};

/* An engine online as BOB over IBB only, its sink and source in a temp
 * folder; cb may be NULL, timeout_ms 0 (the default stage timeout). */
static int
rig_up_with(struct rig *r, const struct jingle_callbacks *cb,
    unsigned timeout_ms)
{
	struct jingle_config cfg = {.max_file_size = 1000};

	memset(r, 0, sizeof(*r));
	if (tu_tmpdir(r->dir, sizeof(r->dir)) < 0 || loop_new(&r->l) < 0)
		return -1;
	cfg.sink = jingle_file_sink(r->dir);
	cfg.source = jingle_file_source(r->dir);
	cfg.transports[0] = CFG_TRANSPORT_IBB;
	cfg.ntransports = 1;
	cfg.timeout_ms = timeout_ms;
	if (jingle_new(r->l, NULL, &cfg, cb, &r->j) < 0)
		return -1;
	jingle_set_ctx(r->j, ctx_get());
	jingle_set_output(r->j, capture, &r->o);
	jingle_online(r->j, BOB);
	return 0;
}

static int
rig_up(struct rig *r)
{
	return rig_up_with(r, NULL, 0);
}

static void
rig_down(struct rig *r)
{
	jingle_free(r->j);
	loop_free(r->l);
	out_clear(&r->o);
	tu_rmtree(r->dir);
}

static void
feed(struct rig *r, const char *xml)
{
	xmpp_stanza_t *st = from_xml(xml);

	out_clear(&r->o);
	if (st) {
		jingle_input(r->j, st);
		xmpp_stanza_release(st);
	}
}

#define OFFER(sid, name, size) "<iq type='set' id='q1' from='" ALICE "' to='" \
	BOB "'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' " \
	"sid='" sid "' initiator='" ALICE "'><content creator='initiator' " \
	"name='f' senders='initiator'><description xmlns='urn:xmpp:jingle:" \
	"apps:file-transfer:5'><file><name>" name "</name><size>" size \
	"</size><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>" HASH_EMPTY \
	"</hash></file></description><transport xmlns='urn:xmpp:jingle:" \
	"transports:ibb:1' sid='I1' block-size='4096'/></content></jingle></iq>"

static int
t_engine_error_replies(void)
{
	struct rig r;

	EXPECT_INT(rig_up(&r), 0);
	feed(&r, "<iq type='set' id='q1' from='" ALICE "'><jingle xmlns="
	    "'urn:xmpp:jingle:1' action='transport-info' sid='nope'/></iq>");
	EXPECT(out_has(&r.o, "item-not-found", "unknown-session"), "%s",
	    r.o.n ? r.o.text[0] : "nothing sent");
	feed(&r, "<iq type='set' id='q1' from='" ALICE "'><jingle xmlns="
	    "'urn:xmpp:jingle:1' action='session-initiate'/></iq>");
	EXPECT(out_has(&r.o, "type=\"error\"", "bad-request"), "missing sid");
	feed(&r, "<iq type='set' id='q1' from='" ALICE "'><jingle xmlns="
	    "'urn:xmpp:jingle:1' action='session-dance' sid='x'/></iq>");
	EXPECT(out_has(&r.o, "feature-not-implemented", NULL), "unknown action");
	feed(&r, OFFER("s1", "../evil", "1"));
	EXPECT(out_has(&r.o, "not-acceptable", NULL), "dotdot name");
	feed(&r, OFFER("s2", "/abs", "1"));
	EXPECT(out_has(&r.o, "not-acceptable", NULL), "absolute name");
	feed(&r, "<iq type='set' id='q1' from='alice@example.org'><jingle xmlns="
	    "'urn:xmpp:jingle:1' action='session-info' sid='x'/></iq>");
	EXPECT(out_has(&r.o, "bad-request", NULL), "bare JID sender");
	feed(&r, "<iq type='set' id='q1' from='" ALICE "'><open xmlns="
	    "'http://jabber.org/protocol/ibb' sid='zz' block-size='4096'/></iq>");
	EXPECT(out_has(&r.o, "item-not-found", NULL), "ibb unknown sid");
	rig_down(&r);
	return 0;
}

static int
t_engine_accepts_then_rejects_out_of_order(void)
{
	struct rig r;

	EXPECT_INT(rig_up(&r), 0);
	feed(&r, OFFER("s3", "ok.bin", "10"));
	EXPECT(out_has(&r.o, "type=\"result\"", NULL), "ack");
	EXPECT(out_has(&r.o, "session-accept", "block-size=\"4096\""),
	    "accept with ibb");
	feed(&r, "<iq type='set' id='q2' from='" ALICE "'><jingle xmlns="
	    "'urn:xmpp:jingle:1' action='session-accept' sid='s3'/></iq>");
	EXPECT(out_has(&r.o, "unexpected-request", "out-of-order"),
	    "accept sent to the responder");
	feed(&r, "<iq type='set' id='q3' from='" ALICE "'><data xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' seq='0'>AAAA</data></iq>");
	EXPECT(out_has(&r.o, "unexpected-request", NULL), "data before open");
	feed(&r, OFFER("s4", "big.bin", "1001"));
	EXPECT(out_has(&r.o, "session-terminate", "media-error"), "too large");
	feed(&r, "<iq type='set' id='q4' from='" ALICE "'><jingle xmlns="
	    "'urn:xmpp:jingle:1' action='session-terminate' sid='s3'><reason>"
	    "<cancel/></reason></jingle></iq>");
	EXPECT(out_has(&r.o, "type=\"result\"", NULL), "terminate acked");
	rig_down(&r);
	return 0;
}

/* A whole IBB transfer into the sink, hostile extra bytes included. */
static int
t_engine_ibb_receive_and_overflow(void)
{
	struct rig r;
	char path[128];
	struct stat st;

	EXPECT_INT(rig_up(&r), 0);
	/* 10 bytes of zeros declared with the hash of the empty file:
	 * complete but wrong, so nothing may appear */
	feed(&r, OFFER("s5", "z.bin", "3"));
	feed(&r, "<iq type='set' id='o' from='" ALICE "'><open xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' block-size='4096'/></iq>");
	EXPECT(out_has(&r.o, "type=\"result\"", NULL), "open acked");
	feed(&r, "<iq type='set' id='d' from='" ALICE "'><data xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' seq='0'>AAAAAAAA</data></iq>");
	EXPECT(out_has(&r.o, "session-terminate", "media-error"),
	    "6 bytes for a 3-byte file: %s", r.o.n ? r.o.text[r.o.n - 1] : "");
	snprintf(path, sizeof(path), "%s/z.bin", r.dir);
	EXPECT(stat(path, &st) < 0, "no file at the final path");
	feed(&r, OFFER("s6", "w.bin", "3"));
	feed(&r, "<iq type='set' id='o' from='" ALICE "'><open xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' block-size='4096'/></iq>");
	feed(&r, "<iq type='set' id='d' from='" ALICE "'><data xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' seq='0'>AAAA</data></iq>");
	EXPECT(!out_has(&r.o, "session-terminate", NULL),
	    "terminated before the sender's close");
	feed(&r, "<iq type='set' id='c' from='" ALICE "'><close xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1'/></iq>");
	EXPECT(out_has(&r.o, "session-terminate", "media-error"),
	    "hash mismatch");
	EXPECT(out_has(&r.o, "sha-256 mismatch", NULL), "says why");
	snprintf(path, sizeof(path), "%s/w.bin", r.dir);
	EXPECT(stat(path, &st) < 0, "no file after a mismatch");
	rig_down(&r);
	return 0;
}

/* ---- opaque offers: the <file/> element names nothing ---- */

#define OPAQUE "xs-00112233445566778899aabbccddeeff"

/* Receiver: knows the opaque name from elsewhere (the sealed put): three
 * bytes "abc" offered as a 19-byte stream. */
static int
resolve_offer(void *arg, const char *peer, struct jingle_file *f)
{
	int *calls = arg;

	(void)peer;
	(*calls)++;
	if (strcmp(f->name, OPAQUE) != 0 || f->size != 19 || f->has_hash)
		return JINGLE_R_DECLINE;
	f->size = 3;
	gcry_md_hash_buffer(GCRY_MD_SHA256, f->sha256, "abc", 3);
	f->has_hash = *calls == 1;	/* the second offer stays hashless */
	return 0;
}

/* Sender: what goes on the wire for a file. */
static void
opaque_wire(void *arg, const struct jingle_file *f, struct jingle_file *w)
{
	(void)arg;
	w->size = f->size + 16;
	w->mtime = -1;
	w->has_hash = 0;
}

static int
rig_up_cb(struct rig *r, struct jingle_callbacks *cb)
{
	return rig_up_with(r, cb, 0);
}

#define OPAQUE_OFFER(sid) "<iq type='set' id='q1' from='" ALICE "' to='" \
	BOB "'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' " \
	"sid='" sid "' initiator='" ALICE "'><content creator='initiator' " \
	"name='f' senders='initiator'><description xmlns='urn:xmpp:jingle:" \
	"apps:file-transfer:5'><file><name>" OPAQUE "</name><size>19</size>" \
	"</file></description><transport xmlns='urn:xmpp:jingle:" \
	"transports:ibb:1' sid='I1' block-size='4096'/></content></jingle></iq>"

/* A hashless offer is taken when the owner knows the file; the answer
 * echoes the opaque <file/>, never what the owner filled in; the sink
 * gets the real size and hash. Without a hash from anywhere: declined. */
static int
t_engine_opaque_offer_resolved_by_owner(void)
{
	struct jingle_callbacks cb = {.accept_offer = resolve_offer};
	int calls = 0;
	struct rig r;
	char path[160];
	struct stat st;

	cb.arg = &calls;
	EXPECT_INT(rig_up_cb(&r, &cb), 0);
	feed(&r, OPAQUE_OFFER("o1"));
	EXPECT_INT(calls, 1);
	EXPECT(out_has(&r.o, "session-accept", "<size>19</size>"),
	    "accept echoes the wire size: %s", r.o.n ? r.o.text[r.o.n - 1] : "");
	EXPECT(!out_has(&r.o, "<size>3</size>", NULL) &&
	    !out_has(&r.o, "urn:xmpp:hashes:2", NULL), "the real file leaked");
	feed(&r, "<iq type='set' id='o' from='" ALICE "'><open xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' block-size='4096'/></iq>");
	feed(&r, "<iq type='set' id='d' from='" ALICE "'><data xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' seq='0'>YWJj</data></iq>");
	feed(&r, "<iq type='set' id='c' from='" ALICE "'><close xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1'/></iq>");
	snprintf(path, sizeof(path), "%s/%s", r.dir, OPAQUE);
	EXPECT(stat(path, &st) == 0 && st.st_size == 3,
	    "the 3 bytes with the resolved hash arrive");
	feed(&r, OPAQUE_OFFER("o2"));
	EXPECT(out_has(&r.o, "session-terminate", "no sha-256 hash"),
	    "hashless offer nobody vouches for");
	rig_down(&r);
	return 0;
}

/* The sender's <file/> says what wire_file made of it: no real size, no
 * date, no hash. */
static int
t_engine_opaque_offer_sent(void)
{
	struct jingle_callbacks cb = {.wire_file = opaque_wire};
	struct jingle_file f = {.name = (char *)OPAQUE, .size = 3,
	    .mtime = 1000000000, .has_hash = 1};
	struct rig r;
	char path[160];

	EXPECT_INT(rig_up_cb(&r, &cb), 0);
	snprintf(path, sizeof(path), "%s/%s", r.dir, OPAQUE);
	EXPECT_INT(tu_write_file(path, "abc", 3, 0644), 0);
	gcry_md_hash_buffer(GCRY_MD_SHA256, f.sha256, "abc", 3);
	out_clear(&r.o);
	EXPECT_INT(jingle_send(r.j, ALICE, &f, NULL), 0);
	EXPECT(out_has(&r.o, "session-initiate", "<size>19</size>"),
	    "offer: %s", r.o.n ? r.o.text[0] : "nothing sent");
	EXPECT(!out_has(&r.o, "<date>", NULL) &&
	    !out_has(&r.o, "urn:xmpp:hashes:2", NULL) &&
	    !out_has(&r.o, "<size>3</size>", NULL), "the real file leaked");
	rig_down(&r);
	return 0;
}

/* The text of the first captured stanza containing a, or NULL. */
static const char *
out_find(const struct out *o, const char *a)
{
	for (int i = 0; i < o->n; i++)
		if (strstr(o->text[i], a))
			return o->text[i];
	return NULL;
}

/* Copies the value of attribute attr (attr="...") found after `after` in
 * text into buf. Returns buf, or "" when absent. */
static const char *
attr_after(const char *text, const char *after, const char *attr, char *buf,
    size_t len)
{
	char key[64];
	const char *p = text ? strstr(text, after) : NULL, *e;

	buf[0] = '\0';
	snprintf(key, sizeof(key), "%s=\"", attr);
	if (p == NULL || (p = strstr(p, key)) == NULL)
		return buf;
	p += strlen(key);
	if ((e = strchr(p, '"')) && (size_t)(e - p) < len) {
		memcpy(buf, p, (size_t)(e - p));
		buf[e - p] = '\0';
	}
	return buf;
}

/* XEP-0166: transport-info belongs to the negotiation of a session that
 * is still PENDING, so the responder's candidate-used may reach the
 * initiator before its session-accept (another implementation sends them
 * a few milliseconds apart, and they can cross). The initiator acks it
 * (no <out-of-order/>) and acts on it once the accept is in: it reports
 * its own result (here candidate-error: the responder offered none) and
 * the session goes on instead of hanging until a stage timeout. */
static int
t_engine_early_candidate_used(void)
{
	struct jingle_config cfg = {.max_file_size = 1000};
	struct loop *l;
	struct jingle *j;
	struct out o = {0};
	struct jingle_file f = {.name = (char *)"x.bin", .size = 3, .mtime = -1};
	char dir[64], path[128], sid[80], tsid[80], cid[80], xml[1024];
	const char *init;
	FILE *fp;

	EXPECT_INT(tu_tmpdir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/x.bin", dir);
	EXPECT((fp = fopen(path, "w")) != NULL, "create");
	fputs("abc", fp);
	fclose(fp);
	EXPECT_INT(loop_new(&l), 0);
	cfg.source = jingle_file_source(dir);
	cfg.transports[0] = CFG_TRANSPORT_S5B;
	cfg.ntransports = 1;
	cfg.s5b_host = "127.0.0.1";
	EXPECT_INT(jingle_new(l, NULL, &cfg, NULL, &j), 0);
	jingle_set_ctx(j, ctx_get());
	jingle_set_output(j, capture, &o);
	jingle_online(j, BOB);
	EXPECT_INT(jingle_send(j, ALICE, &f, NULL), 0);
	for (int i = 0; i < 20 && !out_find(&o, "session-initiate"); i++)
		loop_run_once(l, 50);
	init = out_find(&o, "session-initiate");
	EXPECT(init != NULL, "no session-initiate sent");
	attr_after(init, "<jingle", "sid", sid, sizeof(sid));
	attr_after(init, "<transport", "sid", tsid, sizeof(tsid));
	attr_after(init, "<candidate", "cid", cid, sizeof(cid));
	EXPECT(sid[0] && tsid[0] && cid[0], "sid '%s' tsid '%s' cid '%s'", sid,
	    tsid, cid);
	snprintf(xml, sizeof(xml), "<iq type='result' id='%s' from='" ALICE "'/>",
	    attr_after(init, "<iq", "id", path, sizeof(path)));
	xmpp_stanza_t *st = from_xml(xml);
	out_clear(&o);
	jingle_input(j, st);
	xmpp_stanza_release(st);
	/* candidate-used before the accept */
	snprintf(xml, sizeof(xml), "<iq type='set' id='early' from='" ALICE "'>"
	    "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='%s'>"
	    "<content creator='initiator' name='f'><transport xmlns='urn:xmpp:"
	    "jingle:transports:s5b:1' sid='%s'><candidate-used cid='%s'/>"
	    "</transport></content></jingle></iq>", sid, tsid, cid);
	st = from_xml(xml);
	out_clear(&o);
	jingle_input(j, st);
	xmpp_stanza_release(st);
	EXPECT(out_has(&o, "id=\"early\"", "type=\"result\""),
	    "early transport-info acked: %s", o.n ? o.text[0] : "nothing");
	EXPECT(!out_has(&o, "out-of-order", NULL), "answered out-of-order");
	snprintf(xml, sizeof(xml), "<iq type='set' id='acc' from='" ALICE "'>"
	    "<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='%s' "
	    "responder='" ALICE "'><content creator='initiator' name='f'>"
	    "<description xmlns='urn:xmpp:jingle:apps:file-transfer:5'><file>"
	    "<name>x.bin</name><size>3</size></file></description><transport "
	    "xmlns='urn:xmpp:jingle:transports:s5b:1' sid='%s'/></content>"
	    "</jingle></iq>", sid, tsid);
	st = from_xml(xml);
	out_clear(&o);
	jingle_input(j, st);
	xmpp_stanza_release(st);
	EXPECT(out_has(&o, "id=\"acc\"", "type=\"result\""), "accept acked");
	EXPECT(out_has(&o, "transport-info", "candidate-error"),
	    "our report after the accept: %s", o.n > 1 ? o.text[1] : "none");
	EXPECT(!out_has(&o, "session-terminate", NULL), "session ended: %s",
	    out_find(&o, "session-terminate"));
	jingle_free(j);
	loop_free(l);
	out_clear(&o);
	tu_rmtree(dir);
	return 0;
}

/* XEP-0260 2.2: the responder MUST NOT offer a host and port that the
 * initiator already offered (both may use their server's proxy: offering
 * it again made the initiator take our candidate for its own and close
 * its proxy connection). Our direct candidates go out with the direct
 * type preference (126), a proxy with 10. */
static int
t_engine_responder_skips_initiators_proxy(void)
{
	struct jingle_config cfg = {.max_file_size = 1000};
	struct loop *l;
	struct jingle *j;
	struct out o = {0};
	char dir[64];
	const char *acc;
	xmpp_stanza_t *st;

	EXPECT_INT(tu_tmpdir(dir, sizeof(dir)), 0);
	EXPECT_INT(loop_new(&l), 0);
	cfg.sink = jingle_file_sink(dir);
	/* the proxy listed first: the preferences stay XEP-0260's */
	cfg.transports[0] = CFG_TRANSPORT_PROXY;
	cfg.transports[1] = CFG_TRANSPORT_S5B;
	cfg.ntransports = 2;
	cfg.s5b_host = "127.0.0.1";
	cfg.s5b_port = 9;
	EXPECT_INT(jingle_new(l, NULL, &cfg, NULL, &j), 0);
	jingle_set_ctx(j, ctx_get());
	jingle_set_output(j, capture, &o);
	jingle_online(j, BOB);
	/* the proxy both sides found on their server */
	j->proxy_state = 2;
	snprintf(j->proxy_jid, sizeof(j->proxy_jid), "proxy.example.org");
	snprintf(j->proxy_host, sizeof(j->proxy_host), "192.0.2.7");
	j->proxy_port = 7777;
	st = from_xml("<iq type='set' id='q1' from='" ALICE "' to='" BOB "'>"
	    "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' "
	    "sid='p1' initiator='" ALICE "'><content creator='initiator' "
	    "name='f' senders='initiator'><description xmlns='urn:xmpp:jingle:"
	    "apps:file-transfer:5'><file><name>p.bin</name><size>0</size>"
	    "<hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>" HASH_EMPTY
	    "</hash></file></description><transport xmlns='urn:xmpp:jingle:"
	    "transports:s5b:1' sid='T1' dstaddr='x'><candidate cid='a1' "
	    "host='192.0.2.7' port='7777' jid='proxy.example.org' "
	    "priority='655360' type='proxy'/></transport></content></jingle></iq>");
	jingle_input(j, st);
	xmpp_stanza_release(st);
	acc = out_find(&o, "session-accept");
	EXPECT(acc != NULL, "accepted: %s", o.n ? o.text[o.n - 1] : "nothing");
	EXPECT(acc && strstr(acc, "host=\"127.0.0.1\""), "our direct candidate");
	EXPECT(acc && !strstr(acc, "192.0.2.7"), "the initiator's proxy offered "
	    "back: %s", acc);
	EXPECT(acc && strstr(acc, "priority=\"8323071\""),
	    "direct type preference 126: %s", acc);
	/* an initiator without that proxy: we offer it, with preference 10 */
	st = from_xml("<iq type='set' id='q2' from='" ALICE "' to='" BOB "'>"
	    "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' "
	    "sid='p2' initiator='" ALICE "'><content creator='initiator' "
	    "name='f' senders='initiator'><description xmlns='urn:xmpp:jingle:"
	    "apps:file-transfer:5'><file><name>q.bin</name><size>0</size>"
	    "<hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>" HASH_EMPTY
	    "</hash></file></description><transport xmlns='urn:xmpp:jingle:"
	    "transports:s5b:1' sid='T2' dstaddr='y'/></content></jingle></iq>");
	out_clear(&o);
	jingle_input(j, st);
	xmpp_stanza_release(st);
	acc = out_find(&o, "session-accept");
	EXPECT(acc && strstr(acc, "192.0.2.7") &&
	    strstr(acc, "priority=\"720895\""), "our proxy, preference 10: %s",
	    acc ? acc : "no accept");
	jingle_free(j);
	loop_free(l);
	out_clear(&o);
	tu_rmtree(dir);
	return 0;
}

/* XEP-0261 section 2: "the initiator [...] closes the bytestream as
 * described in XEP-0047 [...] and then terminates the session" -- the
 * receiver must answer the <close/> with a result (the session still
 * exists) and send its session-terminate only after it; without a close
 * it ends the session by itself after a short wait. */
static int
t_engine_ibb_close_before_terminate(void)
{
	struct rig r;
	int64_t t0;

	EXPECT_INT(rig_up(&r), 0);
	feed(&r, OFFER("s7", "e.bin", "0"));
	EXPECT(out_has(&r.o, "session-accept", NULL), "accepted");
	feed(&r, "<iq type='set' id='o' from='" ALICE "'><open xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' block-size='4096'/></iq>");
	EXPECT(!out_has(&r.o, "session-terminate", NULL),
	    "terminated before the close: %s", r.o.n ? r.o.text[r.o.n - 1] : "");
	feed(&r, "<iq type='set' id='c1' from='" ALICE "'><close xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1'/></iq>");
	EXPECT(r.o.n >= 2, "close answered and session terminated");
	EXPECT(strstr(r.o.text[0], "id=\"c1\"") && strstr(r.o.text[0],
	    "type=\"result\""), "first the close's result: %s", r.o.text[0]);
	EXPECT(strstr(r.o.text[1], "session-terminate") &&
	    strstr(r.o.text[1], "<success"), "then success: %s", r.o.text[1]);
	/* a sender that never closes: ended by the engine's tick */
	feed(&r, OFFER("s8", "e2.bin", "0"));
	feed(&r, "<iq type='set' id='o' from='" ALICE "'><open xmlns="
	    "'http://jabber.org/protocol/ibb' sid='I1' block-size='4096'/></iq>");
	out_clear(&r.o);
	t0 = loop_now_ms();
	while (!out_has(&r.o, "session-terminate", NULL) &&
	    loop_now_ms() - t0 < IBB_CLOSE_WAIT_MS + 2000)
		loop_run_once(r.l, 100);
	EXPECT(out_has(&r.o, "session-terminate", "success"),
	    "no close: terminated after the wait");
	EXPECT(loop_now_ms() - t0 >= IBB_CLOSE_WAIT_MS - 300, "waited %lld ms",
	    (long long)(loop_now_ms() - t0));
	rig_down(&r);
	return 0;
}

/* ---- XEP-0234 checksums: <hash-used/> and <checksum/> ---- */

#define HASH_ABC "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
#define HASH_USED "<hash-used xmlns='urn:xmpp:hashes:2' algo='sha-256'/>"

/* An offer of the 3 bytes "abc" over IBB whose <file/> ends in hashel. */
static void
feed_offer(struct rig *r, const char *sid, const char *name,
    const char *hashel)
{
	char xml[2048];

	snprintf(xml, sizeof(xml), "<iq type='set' id='q1' from='" ALICE "' "
	    "to='" BOB "'><jingle xmlns='urn:xmpp:jingle:1' action='session-"
	    "initiate' sid='%s' initiator='" ALICE "'><content creator="
	    "'initiator' name='f' senders='initiator'><description xmlns="
	    "'urn:xmpp:jingle:apps:file-transfer:5'><file><name>%s</name>"
	    "<size>3</size>%s</file></description><transport xmlns='urn:xmpp:"
	    "jingle:transports:ibb:1' sid='I1' block-size='4096'/></content>"
	    "</jingle></iq>", sid, name, hashel);
	feed(r, xml);
}

/* The sender's session-info <checksum/> of XEP-0234 8.2. */
static void
feed_checksum(struct rig *r, const char *sid, const char *b64)
{
	char xml[1024];

	snprintf(xml, sizeof(xml), "<iq type='set' id='ck' from='" ALICE "'>"
	    "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='%s'>"
	    "<checksum xmlns='urn:xmpp:jingle:apps:file-transfer:5' creator="
	    "'initiator' name='f'><file><hash xmlns='urn:xmpp:hashes:2' "
	    "algo='sha-256'>%s</hash></file></checksum></jingle></iq>", sid,
	    b64);
	feed(r, xml);
}

/* Temp files left in dir. */
static int
temps_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, ".xmpp-sync-tmp.", 15) == 0;
	closedir(d);
	return n;
}

/* XEP-0234 5 (0.19), the table of <file/> children: "Either a <hash/> or
 * a <hash-used/> element MUST be included when offering a file", and
 * "Once a hash has been calculated by the File Sender, the File Sender
 * SHOULD inform the File Receiver of the hash value as described in
 * Checksum"; 8.2: "After the session-initiate message, this can also be
 * done by sending a session-info message containing a <checksum/>
 * element". Before 0.19 the same offer carried an empty <hash/> ("those
 * elements MAY be empty if the hash has not yet been computed").
 *
 * The receiver takes such an offer, holds the data, and verifies the
 * file against the checksum before it installs it or says success; a
 * wrong or missing checksum fails the transfer with nothing visible. */
static int
t_engine_hash_used_checksum(void)
{
	static const struct {
		const char *name, *hashel, *before, *after;
		const char *outcome;    /* a reason, or NULL: success */
	} cases[] = {
		{"hash-used, checksum after the data", HASH_USED, NULL,
		    HASH_ABC, NULL},
		{"hash-used, checksum before the data", HASH_USED, HASH_ABC,
		    NULL, NULL},
		{"empty hash (XEP-0234 0.18)", "<hash xmlns='urn:xmpp:hashes:2' "
		    "algo='sha-256'/>", NULL, HASH_ABC, NULL},
		{"hash-used, wrong checksum", HASH_USED, NULL, HASH_EMPTY,
		    "media-error"},
		{"hash-used, checksum never comes", HASH_USED, NULL, NULL,
		    "media-error"},
		{"hash-used, wrong checksum before the data", HASH_USED,
		    HASH_EMPTY, NULL, "media-error"},
	};
	struct rig r;
	char sid[16], name[32], path[160], xml[256], id[80];
	struct stat st;

	EXPECT_INT(rig_up_with(&r, NULL, 600), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *c = cases[i].name;
		snprintf(sid, sizeof(sid), "h%zu", i);
		snprintf(name, sizeof(name), "h%zu.bin", i);
		snprintf(path, sizeof(path), "%s/%s", r.dir, name);
		feed_offer(&r, sid, name, cases[i].hashel);
		EXPECT(out_has(&r.o, "session-accept", "hash-used"),
		    "%s: accepted: %s", c, r.o.n ? r.o.text[r.o.n - 1] : "");
		snprintf(xml, sizeof(xml), "<iq type='result' id='%s' from='"
		    ALICE "'/>", attr_after(out_find(&r.o, "session-accept"),
		    "<iq", "id", id, sizeof(id)));
		feed(&r, xml);
		if (cases[i].before) {
			feed_checksum(&r, sid, cases[i].before);
			EXPECT(out_has(&r.o, "id=\"ck\"", "type=\"result\""),
			    "%s: checksum acked", c);
		}
		feed(&r, "<iq type='set' id='o' from='" ALICE "'><open xmlns="
		    "'http://jabber.org/protocol/ibb' sid='I1' block-size="
		    "'4096'/></iq>");
		feed(&r, "<iq type='set' id='d' from='" ALICE "'><data xmlns="
		    "'http://jabber.org/protocol/ibb' sid='I1' seq='0'>YWJj"
		    "</data></iq>");
		feed(&r, "<iq type='set' id='c' from='" ALICE "'><close xmlns="
		    "'http://jabber.org/protocol/ibb' sid='I1'/></iq>");
		EXPECT(out_has(&r.o, "id=\"c\"", "type=\"result\""),
		    "%s: close acked", c);
		if (!cases[i].before) {
			EXPECT(!out_has(&r.o, "session-terminate", NULL),
			    "%s: ended before the checksum: %s", c,
			    out_find(&r.o, "session-terminate"));
			EXPECT(stat(path, &st) < 0, "%s: visible before the "
			    "checksum", c);
		}
		if (cases[i].after) {
			feed_checksum(&r, sid, cases[i].after);
			EXPECT(strstr(r.o.text[0], "id=\"ck\"") &&
			    strstr(r.o.text[0], "type=\"result\""),
			    "%s: checksum acked first: %s", c, r.o.text[0]);
		}
		if (!cases[i].before && !cases[i].after) {
			int64_t t0 = loop_now_ms();
			while (!out_has(&r.o, "session-terminate", NULL) &&
			    loop_now_ms() - t0 < 3000)
				loop_run_once(r.l, 50);
			EXPECT(loop_now_ms() - t0 >= 400, "%s: waited %lld ms",
			    c, (long long)(loop_now_ms() - t0));
		}
		if (cases[i].outcome == NULL) {
			char *got = NULL;
			size_t len = 0;
			EXPECT(out_has(&r.o, "session-terminate", "<success"),
			    "%s: success: %s", c, out_find(&r.o, "session-"));
			EXPECT(tu_read_file(path, &got, &len) == 0 && len == 3 &&
			    memcmp(got, "abc", 3) == 0, "%s: the file", c);
			free(got);
		} else {
			EXPECT(out_has(&r.o, "session-terminate",
			    cases[i].outcome), "%s: %s: %s", c, cases[i].outcome,
			    out_find(&r.o, "session-terminate"));
			EXPECT(stat(path, &st) < 0, "%s: a file appeared", c);
		}
		EXPECT_INT(temps_in(r.dir), 0);
	}
	/* only the algorithm we do not use: nothing to verify with */
	feed_offer(&r, "h9", "h9.bin", "<hash-used xmlns='urn:xmpp:hashes:2' "
	    "algo='sha-1'/>");
	EXPECT(out_has(&r.o, "bad-request", "no sha-256 hash"),
	    "sha-1 only: %s", r.o.n ? r.o.text[0] : "no answer");
	rig_down(&r);
	return 0;
}

/* The wire file of jft --hash-used: the offer names the algorithm only. */
static void
hash_later_wire(void *arg, const struct jingle_file *f, struct jingle_file *w)
{
	(void)arg;
	(void)f;
	w->has_hash = 0;
	w->hash_later = 1;
}

/* Sender: an offer with <hash-used/> is followed, once the data is out,
 * by the session-info <checksum/> (XEP-0234 5, "the File Sender SHOULD
 * inform the File Receiver of the hash value as described in Checksum");
 * an offer with the <hash/> is not (8.2: "This can be done in the
 * session-initiate message if the File Sender already knows the
 * checksum"). The offer says it supports ranged transfers (6.1: "Inclusion
 * of the <range/> child of the <file/> element indicates that the
 * initiator supports ranged transfers") and names the media type
 * (5: "RECOMMENDED when offering a file"). */
static int
t_engine_sends_checksum_after_data(void)
{
	static const struct { int hash_used; } cases[] = {{1}, {0}};
	struct jingle_file f = {.name = (char *)"abc.txt", .size = 3,
	    .mtime = -1, .has_hash = 1};
	char path[160], xml[1024], id[80], sid[80], tsid[80];
	const char *init;
	struct rig r;

	gcry_md_hash_buffer(GCRY_MD_SHA256, f.sha256, "abc", 3);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jingle_callbacks cb = {.wire_file = cases[i].hash_used ?
		    hash_later_wire : NULL};
		EXPECT_INT(rig_up_with(&r, &cb, 0), 0);
		snprintf(path, sizeof(path), "%s/abc.txt", r.dir);
		EXPECT_INT(tu_write_file(path, "abc", 3, 0644), 0);
		out_clear(&r.o);
		EXPECT_INT(jingle_send(r.j, ALICE, &f, NULL), 0);
		init = out_find(&r.o, "session-initiate");
		EXPECT(init != NULL, "no offer");
		EXPECT(strstr(init, "<range/>") && strstr(init,
		    "<media-type>application/octet-stream</media-type>") &&
		    strstr(init, "initiator=\"" BOB "\""), "offer: %s", init);
		if (cases[i].hash_used)
			EXPECT(strstr(init, "<hash-used") &&
			    !strstr(init, HASH_ABC), "offer: %s", init);
		else
			EXPECT(strstr(init, HASH_ABC) && !strstr(init,
			    "hash-used"), "offer: %s", init);
		attr_after(init, "<jingle", "sid", sid, sizeof(sid));
		attr_after(init, "<transport", "sid", tsid, sizeof(tsid));
		snprintf(xml, sizeof(xml), "<iq type='result' id='%s' from='"
		    ALICE "'/>", attr_after(init, "<iq", "id", id, sizeof(id)));
		feed(&r, xml);
		snprintf(xml, sizeof(xml), "<iq type='set' id='acc' from='" ALICE
		    "'><jingle xmlns='urn:xmpp:jingle:1' action='session-accept' "
		    "sid='%s' responder='" ALICE "'><content creator='initiator' "
		    "name='f' senders='initiator'><description xmlns='urn:xmpp:"
		    "jingle:apps:file-transfer:5'><file><name>abc.txt</name><size>"
		    "3</size>" HASH_USED "</file></description><transport xmlns="
		    "'urn:xmpp:jingle:transports:ibb:1' sid='%s' block-size="
		    "'4096'/></content></jingle></iq>", sid, tsid);
		feed(&r, xml);
		/* the open, then the one <data/>, each acked */
		for (int k = 0; k < 2; k++) {
			const char *q = out_find(&r.o, k ? "<data" : "<open");
			EXPECT(q != NULL, "ibb step %d: %s", k,
			    r.o.n ? r.o.text[r.o.n - 1] : "nothing");
			snprintf(xml, sizeof(xml), "<iq type='result' id='%s' "
			    "from='" ALICE "'/>", attr_after(q, "<iq", "id", id,
			    sizeof(id)));
			feed(&r, xml);
		}
		EXPECT(out_has(&r.o, "<close", NULL), "closed: %s",
		    r.o.n ? r.o.text[0] : "nothing");
		if (cases[i].hash_used) {
			const char *ck = out_find(&r.o, "<checksum");
			EXPECT(ck && strstr(ck, "session-info") &&
			    strstr(ck, "creator=\"initiator\"") &&
			    strstr(ck, "name=\"f\"") && strstr(ck, HASH_ABC),
			    "checksum after the data: %s", ck ? ck : "none");
		} else
			EXPECT(!out_has(&r.o, "<checksum", NULL), "a checksum "
			    "after an offer with the hash");
		rig_down(&r);
	}
	return 0;
}

/* XEP-0166 7.1, the attributes of <jingle/>: 'initiator' is RECOMMENDED
 * for session-initiate and SHOULD NOT be included in other actions,
 * 'responder' is RECOMMENDED for session-accept. XEP-0234 5: <desc/> is
 * OPTIONAL; 6.1: "In the session-accept message, the <file/> element MAY
 * contain a <range/> element to indicate that the receiver also supports
 * ranged transfers". An offer of only a part of a file (a <range/> with
 * an offset in the session-initiate, 6.4) is declined: the receiver
 * verifies whole files. */
static int
t_engine_accept_attributes_desc_range(void)
{
	static const struct {
		const char *name, *extra;
		int accepted;
	} cases[] = {
		{"without desc", "", 1},
		{"with desc", "<desc>This is a test. If this were a real file"
		    "...</desc>", 1},
		{"with desc and media-type", "<desc xml:lang='en'>x</desc>"
		    "<media-type>text/plain</media-type><range/>", 1},
		{"part of a file", "<range offset='2'/>", 0},
	};
	char sid[16], name[32], hashel[256];
	const char *acc;
	struct rig r;

	EXPECT_INT(rig_up(&r), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(sid, sizeof(sid), "a%zu", i);
		snprintf(name, sizeof(name), "a%zu.bin", i);
		snprintf(hashel, sizeof(hashel), "%s<hash xmlns='urn:xmpp:"
		    "hashes:2' algo='sha-256'>" HASH_ABC "</hash>",
		    cases[i].extra);
		feed_offer(&r, sid, name, hashel);
		acc = out_find(&r.o, "session-accept");
		if (!cases[i].accepted) {
			EXPECT(acc == NULL && out_has(&r.o, "session-terminate",
			    "failed-application"), "%s: %s", cases[i].name,
			    r.o.n ? r.o.text[r.o.n - 1] : "nothing");
			continue;
		}
		EXPECT(acc != NULL, "%s: not accepted: %s", cases[i].name,
		    r.o.n ? r.o.text[r.o.n - 1] : "nothing");
		EXPECT(!strstr(acc, "initiator=\"") && strstr(acc,
		    "responder=\"" BOB "\"") && strstr(acc, "<range/>"),
		    "%s: %s", cases[i].name, acc);
	}
	rig_down(&r);
	return 0;
}

/* XEP-0166, informational messages: "If either party receives an empty
 * session-info message for an active session, it MUST send an empty IQ
 * result"; "If the party that receives an informational message does not
 * understand the payload, it MUST return a <feature-not-implemented/>
 * error with a Jingle-specific error condition of <unsupported-info/>."
 * XEP-0234 8.1 <received/> and 8.2 <checksum/> are understood. */
static int
t_engine_session_info_payloads(void)
{
	static const struct { const char *payload, *want, *want2; } cases[] = {
		{"", "type=\"result\"", NULL},
		{"<ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>",
		    "feature-not-implemented", "unsupported-info"},
		{"<received xmlns='urn:xmpp:jingle:apps:file-transfer:5' "
		    "creator='initiator' name='f'/>", "type=\"result\"", NULL},
		{"<checksum xmlns='urn:xmpp:jingle:apps:file-transfer:5' "
		    "creator='initiator' name='f'><file><hash xmlns='urn:xmpp:"
		    "hashes:2' algo='sha-256'>" HASH_ABC "</hash></file>"
		    "</checksum>", "type=\"result\"", NULL},
	};
	char xml[1024];
	struct rig r;

	EXPECT_INT(rig_up(&r), 0);
	feed_offer(&r, "i1", "i1.bin", "<hash xmlns='urn:xmpp:hashes:2' "
	    "algo='sha-256'>" HASH_ABC "</hash>");
	EXPECT(out_has(&r.o, "session-accept", NULL), "accepted");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(xml, sizeof(xml), "<iq type='set' id='si' from='" ALICE
		    "'><jingle xmlns='urn:xmpp:jingle:1' action='session-info' "
		    "sid='i1'>%s</jingle></iq>", cases[i].payload);
		feed(&r, xml);
		EXPECT(r.o.n >= 1 && strstr(r.o.text[0], "id=\"si\"") &&
		    strstr(r.o.text[0], cases[i].want) && (!cases[i].want2 ||
		    strstr(r.o.text[0], cases[i].want2)), "case %zu: %s", i,
		    r.o.n ? r.o.text[0] : "no answer");
		EXPECT(!out_has(&r.o, "session-terminate", NULL),
		    "case %zu ended the session", i);
	}
	rig_down(&r);
	return 0;
}

/* Refuses everyone but ALICE, as the daemon refuses all but its trusted
 * peers. */
static int
only_alice(void *arg, const char *peer)
{
	(void)arg;
	return peer && strcmp(peer, ALICE) == 0 ? 0 : -EPERM;
}

/* XEP-0166 5.2 (the responder's reply to session-initiate): "If the
 * responder wishes to not communicate with the initiator because of a
 * policy of not talking to unknown entities, it MUST return a
 * <service-unavailable/> error". Every Jingle and IBB request of a
 * stranger gets that, the same as the server's answer for a resource
 * that is not online, and starts nothing. */
static int
t_engine_stranger_gets_service_unavailable(void)
{
#define EVE "eve@example.org/e"
	static const char *const reqs[] = {
		"<iq type='set' id='s1' from='" EVE "'><jingle xmlns='urn:xmpp:"
		    "jingle:1' action='session-initiate' sid='e1' initiator='"
		    EVE "'><content creator='initiator' name='f' senders="
		    "'initiator'><description xmlns='urn:xmpp:jingle:apps:file-"
		    "transfer:5'><file><name>evil.txt</name><size>3</size><hash "
		    "xmlns='urn:xmpp:hashes:2' algo='sha-256'>" HASH_ABC "</hash>"
		    "</file></description><transport xmlns='urn:xmpp:jingle:"
		    "transports:ibb:1' sid='I1' block-size='4096'/></content>"
		    "</jingle></iq>",
		"<iq type='set' id='s1' from='" EVE "'><jingle xmlns='urn:xmpp:"
		    "jingle:1' action='transport-info' sid='e1'/></iq>",
		"<iq type='set' id='s1' from='" EVE "'><open xmlns='http://"
		    "jabber.org/protocol/ibb' sid='I1' block-size='4096'/></iq>",
	};
	struct jingle_callbacks cb = {.authorize = only_alice};
	char path[160];
	struct stat st;
	struct rig r;

	EXPECT_INT(rig_up_with(&r, &cb, 0), 0);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		feed(&r, reqs[i]);
		EXPECT(r.o.n == 1 && strstr(r.o.text[0], "type=\"error\"") &&
		    strstr(r.o.text[0], "<service-unavailable") &&
		    strstr(r.o.text[0], "type=\"cancel\"") &&
		    strstr(r.o.text[0], "to=\"" EVE "\""), "request %zu: %s", i,
		    r.o.n ? r.o.text[0] : "no answer");
	}
	EXPECT_INT(jingle_pending(r.j), 0);
	snprintf(path, sizeof(path), "%s/evil.txt", r.dir);
	EXPECT(stat(path, &st) < 0, "a stranger's file");
	EXPECT_INT(temps_in(r.dir), 0);
	/* the peer still gets through */
	feed_offer(&r, "ok", "ok.bin", "<hash xmlns='urn:xmpp:hashes:2' "
	    "algo='sha-256'>" HASH_ABC "</hash>");
	EXPECT(out_has(&r.o, "session-accept", NULL), "peer refused: %s",
	    r.o.n ? r.o.text[0] : "nothing");
	rig_down(&r);
	return 0;
#undef EVE
}

/* XEP-0300 6: "an entity MUST advertise ... the namespace
 * urn:xmpp:hashes:2 ... and each hash function it supports" as
 * urn:xmpp:hash-function-text-names:NAME; XEP-0234 11 and XEP-0166 11:
 * the Jingle and file-transfer namespaces; XEP-0260 and XEP-0261 their
 * transports. */
static int
t_jingle_features_advertised(void)
{
	static const char *const want[] = {
		"urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:file-transfer:5",
		"urn:xmpp:jingle:transports:s5b:1",
		"urn:xmpp:jingle:transports:ibb:1",
		"http://jabber.org/protocol/ibb", "urn:xmpp:hashes:2",
		"urn:xmpp:hash-function-text-names:sha-256",
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int found = 0;
		for (const char *const *f = jingle_features(); *f; f++)
			found += strcmp(*f, want[i]) == 0;
		EXPECT(found == 1, "%s listed %d times", want[i], found);
	}
	return 0;
}

/* s5b_listen and s5b_offer (issue 7): the direct listener binds only the
 * configured address, and the offer carries only the configured host as
 * a direct candidate, with XEP-0260's direct type preference (126). */
static int
t_engine_s5b_listen_and_offer(void)
{
	struct jingle_config cfg = {.max_file_size = 1000};
	struct jingle_file f = {.name = (char *)"x.bin", .size = 3, .mtime = -1,
	    .has_hash = 1};
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	char dir[64], path[128], host[64];
	struct out o = {0};
	const char *init, *p;
	struct loop *l;
	struct jingle *j;
	int n = 0;

	EXPECT_INT(tu_tmpdir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/x.bin", dir);
	EXPECT_INT(tu_write_file(path, "abc", 3, 0644), 0);
	EXPECT_INT(loop_new(&l), 0);
	cfg.source = jingle_file_source(dir);
	cfg.transports[0] = CFG_TRANSPORT_S5B;
	cfg.ntransports = 1;
	cfg.s5b_listen = "127.0.0.1";
	cfg.s5b_host = "192.0.2.9";
	EXPECT_INT(jingle_new(l, NULL, &cfg, NULL, &j), 0);
	jingle_set_ctx(j, ctx_get());
	jingle_set_output(j, capture, &o);
	jingle_online(j, BOB);
	EXPECT_INT(jingle_send(j, ALICE, &f, NULL), 0);
	init = out_find(&o, "session-initiate");
	EXPECT(init != NULL, "no offer");
	for (p = init; (p = strstr(p, "<candidate ")) != NULL; p++)
		n++;
	EXPECT_INT(n, 1);
	attr_after(init, "<candidate", "host", host, sizeof(host));
	EXPECT_STR((const char *)host, "192.0.2.9");
	EXPECT(strstr(init, "type=\"direct\"") && strstr(init,
	    "priority=\"8323071\""), "candidate: %s", init);
	EXPECT(j->lfd >= 0 && getsockname(j->lfd, (struct sockaddr *)&sa,
	    &salen) == 0 && sa.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&sa)->sin_addr.s_addr == htonl(0x7f000001),
	    "listener not on 127.0.0.1 only");
	jingle_free(j);
	loop_free(l);
	out_clear(&o);
	tu_rmtree(dir);
	return 0;
}

/* ---- SOCKS5 over loopback ---- */

struct hs {
	struct s5b *srv, *cli;
	int srv_err, cli_err, srv_done, cli_done;
	int lfd;
	struct loop *l;
	const char *want;
};

static int
hs_match(void *arg, const char *dst)
{
	struct hs *h = arg;

	return strcmp(dst, h->want) == 0 ? 0 : -EACCES;
}

static void
hs_srv_done(struct s5b *c, int err, void *arg)
{
	struct hs *h = arg;

	(void)c;
	h->srv_err = err;
	h->srv_done = 1;
}

static void
hs_cli_done(struct s5b *c, int err, void *arg)
{
	struct hs *h = arg;

	(void)c;
	h->cli_err = err;
	h->cli_done = 1;
}

static void
hs_accept(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct hs *h = arg;
	int c = accept(fd, NULL, NULL);

	(void)ev;
	if (c >= 0)
		s5b_serve(l, c, 2000, hs_match, hs_srv_done, h, &h->srv);
}

static int
handshake(const char *want, const char *ask, struct hs *h)
{
	uint16_t port = 0;
	int64_t t0 = loop_now_ms();

	memset(h, 0, sizeof(*h));
	h->want = want;
	if (loop_new(&h->l) < 0 || (h->lfd = s5b_listen("127.0.0.1", &port)) < 0)
		return -1;
	loop_fd_add(h->l, h->lfd, LOOP_READ, hs_accept, h);
	if (s5b_connect(h->l, "127.0.0.1", port, ask, 2000, hs_cli_done, h,
	    &h->cli) < 0)
		return -1;
	while ((!h->cli_done || !h->srv_done) && loop_now_ms() - t0 < 3000)
		loop_run_once(h->l, 50);
	return 0;
}

static void
handshake_free(struct hs *h)
{
	s5b_free(h->srv);
	s5b_free(h->cli);
	loop_fd_del(h->l, h->lfd);
	close(h->lfd);
	loop_free(h->l);
}

static int
t_socks5_handshake_loopback(void)
{
	char dst[S5B_DST_LEN + 1], buf[8];
	struct hs h;
	int a, b;

	s5b_dstaddr("sid", ALICE, BOB, dst);
	EXPECT_INT(handshake(dst, dst, &h), 0);
	EXPECT_INT(h.cli_done, 1);
	EXPECT_INT(h.srv_done, 1);
	EXPECT_INT(h.cli_err, 0);
	EXPECT_INT(h.srv_err, 0);
	const char *want = dst;
	EXPECT_STR(s5b_get_dst(h.srv), want);
	a = s5b_take_fd(h.cli);
	b = s5b_take_fd(h.srv);
	h.cli = h.srv = NULL;
	EXPECT_INT(write(a, "hello", 5), 5);
	usleep(10000);
	EXPECT_INT(read(b, buf, sizeof(buf)), 5);
	EXPECT(memcmp(buf, "hello", 5) == 0, "bytes pass");
	close(a);
	close(b);
	handshake_free(&h);
	return 0;
}

static int
t_socks5_wrong_dst_refused(void)
{
	char dst[S5B_DST_LEN + 1], other[S5B_DST_LEN + 1];
	struct hs h;

	s5b_dstaddr("sid", ALICE, BOB, dst);
	s5b_dstaddr("sid", BOB, ALICE, other);
	EXPECT_INT(handshake(dst, other, &h), 0);
	EXPECT_INT(h.cli_err, -EACCES);
	EXPECT(h.srv_err < 0, "server side fails too");
	handshake_free(&h);
	return 0;
}

/* Each message of the handshake: complete, cut short, or wrong. */
static int
t_socks5_parse_table(void)
{
	static const char dst40[] = "0123456789abcdef0123456789abcdef01234567";
	static const struct {
		enum s5b_msg k;
		const char *in;
		size_t len;
		long want;
	} cases[] = {
		{S5B_MSG_GREETING, "\5\1\0", 3, 3},
		{S5B_MSG_GREETING, "\5\2\2\0x", 5, 4},
		{S5B_MSG_GREETING, "\5\2\0", 3, 0},
		{S5B_MSG_GREETING, "\5\1\2", 3, -EPROTO},
		{S5B_MSG_GREETING, "\4\1\0", 3, -EPROTO},
		{S5B_MSG_CHOICE, "\5", 1, 0},
		{S5B_MSG_CHOICE, "\5\0", 2, 2},
		{S5B_MSG_CHOICE, "\5\377", 2, -EPROTO},
		{S5B_MSG_REPLY, "\5\0\0\1\1\2\3\4\0\0", 10, 10},
		{S5B_MSG_REPLY, "\5\0\0\1\1\2\3\4\0", 9, 0},
		{S5B_MSG_REPLY, "\5\2\0\1\1\2\3\4\0\0", 10, -EACCES},
		{S5B_MSG_REPLY, "\5\0\0\7\1\2\3\4\0\0", 10, -EPROTO},
		{S5B_MSG_REQUEST, "\5\1\0\1\1\2\3\4\0\0", 10, -EPROTO},
	};
	unsigned char req[47];
	char got[S5B_DST_LEN + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT(s5b_parse(cases[i].k, (const unsigned char *)cases[i].in,
		    cases[i].len, got) == cases[i].want, "case %zu", i);
	memcpy(req, "\5\1\0\3\50", 5);
	memcpy(req + 5, dst40, 40);
	req[45] = req[46] = 0;
	EXPECT_INT(s5b_parse(S5B_MSG_REQUEST, req, 46, got), 0);
	EXPECT_INT(s5b_parse(S5B_MSG_REQUEST, req, 47, got), 47);
	EXPECT_STR(got, dst40);
	req[20] = 'A';  /* dst.addr is lowercase hex */
	EXPECT_INT(s5b_parse(S5B_MSG_REQUEST, req, 47, got), -EPROTO);
	return 0;
}

/* ---- the default sink ---- */

static int
t_file_sink_resumes_a_kept_prefix(void)
{
	char dir[sizeof(TU_TMP_TEMPLATE)], path[128];
	unsigned char data[1000], got[1000];
	struct jingle_file f = {.name = (char *)"d/e/f.bin", .size = 1000,
	    .has_hash = 1};
	struct jingle_sink k;
	uint64_t have;
	void *h;
	int fd;

	EXPECT_INT(tu_tmpdir(dir, sizeof(dir)), 0);
	for (int i = 0; i < 1000; i++)
		data[i] = (unsigned char)(i * 7);
	gcry_md_hash_buffer(GCRY_MD_SHA256, f.sha256, data, sizeof(data));
	k = jingle_file_sink(dir);
	EXPECT_INT(k.open(k.arg, ALICE, &f, &h, &have), 0);
	EXPECT_INT(have, 0);
	EXPECT_INT(k.write(h, data, 400), 0);
	k.abort(h, 1);
	EXPECT_INT(k.open(k.arg, ALICE, &f, &h, &have), 0);
	EXPECT_INT(have, 400);
	EXPECT_INT(k.write(h, data + 400, 600), 0);
	EXPECT_INT(k.write(h, data, 1), -EMSGSIZE);
	EXPECT_INT(k.finish(h), 0);
	snprintf(path, sizeof(path), "%s/d/e/f.bin", dir);
	fd = open(path, O_RDONLY);
	EXPECT(fd >= 0, "final file");
	EXPECT_INT(read(fd, got, sizeof(got)), 1000);
	close(fd);
	EXPECT(memcmp(got, data, 1000) == 0, "content");
	EXPECT_INT(tu_rmtree(dir), 0);
	return 0;
}

static int
t_file_sink_refuses_symlinked_parent(void)
{
	char dir[sizeof(TU_TMP_TEMPLATE)], out[sizeof(TU_TMP_TEMPLATE)];
	char link[128], path[128];
	struct jingle_file f = {.name = (char *)"l/x.bin", .size = 0,
	    .has_hash = 1};
	struct jingle_sink k;
	struct stat st;
	uint64_t have;
	void *h;

	EXPECT(tu_tmpdir(dir, sizeof(dir)) == 0 &&
	    tu_tmpdir(out, sizeof(out)) == 0, "tmpdirs");
	gcry_md_hash_buffer(GCRY_MD_SHA256, f.sha256, "", 0);
	snprintf(link, sizeof(link), "%s/l", dir);
	EXPECT_INT(symlink(out, link), 0);
	k = jingle_file_sink(dir);
	EXPECT_INT(k.open(k.arg, ALICE, &f, &h, &have), 0);
	EXPECT(k.finish(h) < 0, "a symlinked folder is not followed");
	snprintf(path, sizeof(path), "%s/x.bin", out);
	EXPECT(stat(path, &st) < 0, "nothing outside the folder");
	EXPECT_INT(tu_rmtree(dir), 0);
	EXPECT_INT(tu_rmtree(out), 0);
	return 0;
}

/* A directory replaced by a symlink after the scan: the source must refuse
 * to read through it, and still read an ordinary file. */
static int
t_file_source_refuses_symlinked_dir(void)
{
	char dir[] = "/tmp/xs-test.XXXXXX", out[] = "/tmp/xs-test.XXXXXX";
	char p[160], cmd[256];
	struct jingle_file in = {.name = (char *)"d/secret.txt"};
	struct jingle_file ok = {.name = (char *)"plain.txt"};
	struct jingle_source s;
	unsigned char buf[16];
	void *h = NULL;
	FILE *fp;

	EXPECT(mkdtemp(dir) && mkdtemp(out), "tmpdirs");
	snprintf(p, sizeof(p), "%s/secret.txt", out);
	EXPECT((fp = fopen(p, "w")) != NULL, "outside file");
	fputs("outside", fp);
	fclose(fp);
	snprintf(p, sizeof(p), "%s/plain.txt", dir);
	EXPECT((fp = fopen(p, "w")) != NULL, "inside file");
	fputs("inside", fp);
	fclose(fp);
	snprintf(p, sizeof(p), "%s/d", dir);
	EXPECT_INT(symlink(out, p), 0);
	s = jingle_file_source(dir);
	EXPECT(s.open(s.arg, &in, NULL, &h) < 0, "read through a symlinked dir");
	EXPECT_INT(s.open(s.arg, &ok, NULL, &h), 0);
	EXPECT_INT(s.read(h, 0, buf, sizeof(buf)), 6);
	EXPECT(memcmp(buf, "inside", 6) == 0, "content of the plain file");
	s.close(h);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	EXPECT_INT(mkfifo(p, 0600), 0);
	in.name = (char *)"fifo";
	EXPECT_INT(s.open(s.arg, &in, NULL, &h), -EINVAL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, out);
	EXPECT_INT(system(cmd), 0);
	return 0;
}

static const struct unit_test tests[] = {
	{"dstaddr_matches_sha1sum", t_dstaddr_matches_sha1sum},
	{"ibb_seq_wraps_after_65535", t_ibb_seq_wraps_after_65535},
	{"ibb_base64_strict", t_ibb_base64_strict},
	{"path_rule", t_path_rule},
	{"parse_session_initiate_s5b", t_parse_session_initiate_s5b},
	{"build_parse_every_action", t_build_parse_every_action},
	{"parse_rejects_malformed", t_parse_rejects_malformed},
	{"engine_error_replies", t_engine_error_replies},
	{"engine_opaque_offer_resolved_by_owner",
	    t_engine_opaque_offer_resolved_by_owner},
	{"engine_opaque_offer_sent", t_engine_opaque_offer_sent},
	{"engine_accepts_then_rejects_out_of_order",
	    t_engine_accepts_then_rejects_out_of_order},
	{"engine_ibb_receive_overflow_and_mismatch",
	    t_engine_ibb_receive_and_overflow},
	{"socks5_handshake_loopback", t_socks5_handshake_loopback},
	{"socks5_wrong_dst_refused", t_socks5_wrong_dst_refused},
	{"socks5_parse_table", t_socks5_parse_table},
	{"file_sink_resumes_a_kept_prefix", t_file_sink_resumes_a_kept_prefix},
	{"file_sink_refuses_symlinked_parent",
	    t_file_sink_refuses_symlinked_parent},
	{"engine_early_candidate_used", t_engine_early_candidate_used},
	{"engine_responder_skips_initiators_proxy",
	 t_engine_responder_skips_initiators_proxy},
	{"engine_ibb_close_before_terminate",
	 t_engine_ibb_close_before_terminate},
	{"file_source_refuses_symlinked_dir",
	    t_file_source_refuses_symlinked_dir},
	{"engine_hash_used_checksum", t_engine_hash_used_checksum},
	{"engine_sends_checksum_after_data", t_engine_sends_checksum_after_data},
	{"engine_accept_attributes_desc_range",
	    t_engine_accept_attributes_desc_range},
	{"engine_stranger_gets_service_unavailable",
	    t_engine_stranger_gets_service_unavailable},
	{"jingle_features_advertised", t_jingle_features_advertised},
	{"engine_session_info_payloads", t_engine_session_info_payloads},
	{"engine_s5b_listen_and_offer", t_engine_s5b_listen_and_offer},
};

int
main(int argc, char **argv)
{
	int r;

	log_set_level(LOG_LVL_ERROR);
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		gcry_check_version(NULL);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	r = unit_run("test_jingle.c", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
	xmpp_ctx_free(ctx_get());
	xmpp_shutdown();
	return r;
}
