/* test_syncproto.c -- the metadata protocol's parser and builder
 * (agent/mirror/syncproto.c, urn:xmpp-sync:meta:0) fed hostile XML: every
 * refused <op/> or <e/> gives -EINVAL and the exact reason, every
 * accepted one the exact fields; and what the builder writes comes back
 * field for field after a trip through XML text.
 *
 * Input is written as XML text and parsed by libstrophe, as it would come
 * off the wire. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>

#include "agent/mirror/mirror_int.h"
#include "store/store.h"
#include "sync/plan.h"
#include "tests/testutil.h"
#include "tests/unit.h"

#define NS "urn:xmpp-sync:meta:0"
#define H64 "0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef"
#define XML_REFUSED 1	/* libstrophe made no stanza of the text */

/* The first element inside <sync xmlns=NS>inner</sync>, or NULL if
 * libstrophe refuses the text. Valid until the next call. */
static xmpp_stanza_t *
first_child(const char *inner)
{
	size_t n = strlen(inner) + 64;
	char *xml = malloc(n);
	xmpp_stanza_t *c, *top;

	if (xml == NULL)
		return NULL;
	snprintf(xml, n, "<sync xmlns='" NS "'>%s</sync>", inner);
	top = tu_stanza_parse(xml);
	free(xml);
	for (c = top ? xmpp_stanza_get_children(top) : NULL; c;
	    c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c))
			return c;
	return NULL;
}

/* Parses the one operation in op (XML text). Returns sync_op_parse's
 * result, or XML_REFUSED. */
static int
parse_op(const char *op, struct sync_op *o, const char **why)
{
	xmpp_stanza_t *el = first_child(op);

	*why = "";
	memset(o, 0, sizeof(*o));
	return el ? sync_op_parse(el, o, why) : XML_REFUSED;
}

/* Refusal tables: each operation gives -EINVAL and exactly why. */
struct refusal {
	const char *op;
	const char *why;
};

static int
refused(const struct refusal *t, size_t n)
{
	struct sync_op o;
	const char *why;
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		int r = parse_op(t[i].op, &o, &why);
		if (r != -EINVAL || strcmp(why, t[i].why) != 0) {
			printf("  %s: got %d \"%s\", want -EINVAL \"%s\"\n",
			    t[i].op, r, why, t[i].why);
			bad = 1;
		}
	}
	EXPECT_INT(bad, 0);
	return 0;
}

#define ROWS(t) (t), (sizeof(t) / sizeof((t)[0]))
#define UNKNOWN "unknown operation"
#define BADPATH "unsafe or missing path"
#define BADNUM "bad size, mode, mtime or checksum"
#define BADLINK "symlink without a sane target"
#define PUT_REST "s='5' h='" H64 "' m='644' t='1' q='7'"

#define INLINE "bad inline content"
/* content inline: base64 of exactly the declared size, at most
 * SYNC_INLINE_MAX bytes (s='5': 8 base64 characters) */
static const struct refusal inline_refusals[] = {
	{"<op k='put' p='a' c='aGVsbG8' " PUT_REST "/>", INLINE},
	{"<op k='put' p='a' c='aGVsbG8=aGVs' " PUT_REST "/>", INLINE},
	{"<op k='put' p='a' c='' " PUT_REST "/>", INLINE},
	{"<op k='put' p='a' c='AAAA' s='8193' h='" H64 "' m='644' t='1'/>",
	 INLINE},
};

static int
t_inline_content_round_trips_and_is_bounded(void)
{
	xmpp_ctx_t *ctx = tu_xmpp_ctx();
	xmpp_stanza_t *q = xmpp_stanza_new(ctx), *el;
	struct sync_op o = {.kind = STORE_OP_PUT, .path = "a/b.txt", .size = 5,
	    .has_sha256 = 1, .mode = 0644, .mtime_ns = 1, .seq = 3,
	    .content64 = "aGVsbG8="}, back;
	const char *why;
	char *xml = NULL;
	size_t len;

	xmpp_stanza_set_name(q, "sync");
	EXPECT_INT(sync_op_build(ctx, q, &o), 0);
	EXPECT_INT(xmpp_stanza_to_text(xmpp_stanza_get_children(q), &xml, &len),
	    0);
	xmpp_stanza_release(q);
	el = first_child(xml);
	xmpp_free(ctx, xml);
	EXPECT(el != NULL, "built op parses as XML");
	EXPECT_INT(sync_op_parse(el, &back, &why), 0);
	EXPECT(back.content64 && strcmp(back.content64, "aGVsbG8=") == 0,
	    "content back: %s", back.content64 ? back.content64 : "(none)");
	/* only a put carries content; without it, none */
	EXPECT_INT(parse_op("<op k='put' p='a' " PUT_REST "/>", &back, &why), 0);
	EXPECT(back.content64 == NULL, "no content without c");
	EXPECT_INT(parse_op("<op k='put' p='e' c='' s='0' h='" H64 "' m='644' "
	    "t='1'/>", &back, &why), 0);
	EXPECT(back.content64 && back.content64[0] == '\0', "an empty file inline");
	return refused(ROWS(inline_refusals));
}

static int
t_delta_mark_round_trips_and_only_1_means_yes(void)
{
	xmpp_ctx_t *ctx = tu_xmpp_ctx();
	xmpp_stanza_t *q = xmpp_stanza_new(ctx), *el;
	struct sync_op o = {.kind = STORE_OP_PUT, .path = "big", .size = 99999,
	    .has_sha256 = 1, .mode = 0644, .mtime_ns = 1, .seq = 3,
	    .delta = 1}, back;
	const char *why;
	char *xml = NULL;
	size_t len;

	xmpp_stanza_set_name(q, "sync");
	EXPECT_INT(sync_op_build(ctx, q, &o), 0);
	EXPECT_INT(xmpp_stanza_to_text(xmpp_stanza_get_children(q), &xml, &len),
	    0);
	xmpp_stanza_release(q);
	EXPECT(strstr(xml, "x=\"1\"") != NULL, "no x in %s", xml);
	el = first_child(xml);
	xmpp_free(ctx, xml);
	EXPECT(el != NULL, "built op parses as XML");
	EXPECT_INT(sync_op_parse(el, &back, &why), 0);
	EXPECT_INT(back.delta, 1);
	/* a master that knows no deltas says nothing; anything but 1 is no */
	EXPECT_INT(parse_op("<op k='put' p='a' " PUT_REST "/>", &back, &why), 0);
	EXPECT_INT(back.delta, 0);
	EXPECT_INT(parse_op("<op k='put' p='a' x='yes' " PUT_REST "/>", &back,
	    &why), 0);
	EXPECT_INT(back.delta, 0);
	return 0;
}

static const struct refusal unknown_ops[] = {
	{"<op p='a' " PUT_REST "/>", UNKNOWN},
	{"<op k='' p='a' " PUT_REST "/>", UNKNOWN},
	{"<op k='chmod' p='a' m='644' t='1'/>", UNKNOWN},
	{"<op k='PUT' p='a' " PUT_REST "/>", UNKNOWN},
	{"<op k='put ' p='a' " PUT_REST "/>", UNKNOWN},
	{"<op k='?' p='a'/>", UNKNOWN},	/* sync_kind_name()'s fallback */
	{"<put k='put' p='a' " PUT_REST "/>", UNKNOWN},
	{"<delete k='delete' p='a'/>", UNKNOWN},
	{"<e k='delete' p='a'/>", UNKNOWN},
};

static int
t_refuses_unknown_kinds_and_elements(void)
{
	return refused(ROWS(unknown_ops));
}

/* Paths refused wherever they appear: as p of a put, as f of a rename. */
static const char *const bad_paths[] = {
	"", "../x", "/abs", "a//b", "a/./b", "a/../b", ".", "..", "a/", "/",
	"a/.", "a/..", ".xmpp-sync-tmp.1", "d/.xmpp-sync-tmp.x",
};

#define NBAD (sizeof(bad_paths) / sizeof(bad_paths[0]))

/* Names are bytes: what XML cannot carry travels as base64 in p64/f64/l64
 * and comes back byte for byte; control characters are ordinary name
 * bytes (char references are XML's business, not a refusal). */
static int
t_names_are_bytes(void)
{
	static const char *const names[] = {"bad\xffname", "new\nline",
	    "tab\there", "cr\r", "del\x7f", "back\\slash",
	    "caf\xc3\xa9", "\xed\xa0\x80surrogate", "\xc0\xafoverlong",
	    "q'\"&<>"};
	xmpp_ctx_t *ctx = tu_xmpp_ctx();
	struct sync_op o, back;
	const char *why;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		xmpp_stanza_t *q = xmpp_stanza_new(ctx), *el;
		char *text;
		size_t len;

		xmpp_stanza_set_name(q, "sync");
		xmpp_stanza_set_ns(q, NS);
		memset(&o, 0, sizeof(o));
		o.kind = STORE_OP_RENAME;
		o.path = names[i];
		o.from = names[(i + 1) % 10];
		o.mode = 0644;
		EXPECT_INT(sync_op_build(ctx, q, &o), 0);
		el = xmpp_stanza_get_children(q);
		EXPECT((xmpp_stanza_get_attribute(el, "p") != NULL) ==
		    sync_text_safe(names[i]), "p or p64 for name %zu", i);
		/* through the wire: text and back */
		EXPECT_INT(xmpp_stanza_to_text(q, &text, &len), 0);
		xmpp_stanza_release(q);
		q = xmpp_stanza_new_from_string(ctx, text);
		xmpp_free(ctx, text);
		EXPECT(q != NULL, "name %zu: not well-formed XML", i);
		EXPECT_INT(sync_op_parse(xmpp_stanza_get_children(q), &back, &why), 0);
		EXPECT_STR(back.path, names[i]);
		EXPECT_STR(back.from, names[(i + 1) % 10]);
		xmpp_stanza_release(q);
	}
	/* both forms at once, base64 of a NUL, of nothing, of garbage */
	EXPECT_INT(parse_op("<op k='delete' p='a' p64='YQ=='/>", &o, &why), -EINVAL);
	EXPECT_INT(parse_op("<op k='delete' p64='YQBi'/>", &o, &why), -EINVAL);
	EXPECT_INT(parse_op("<op k='delete' p64=''/>", &o, &why), -EINVAL);
	EXPECT_INT(parse_op("<op k='delete' p64='!!'/>", &o, &why), -EINVAL);
	EXPECT_INT(parse_op("<op k='delete' p64='Li4vZXRjL3Bhc3N3ZA=='/>", &o,
	    &why), -EINVAL);	/* ../etc/passwd */
	EXPECT_INT(parse_op("<op k='delete' p64='Yf9i'/>", &o, &why), 0);
	EXPECT_STR(o.path, "a\xff" "b");
	EXPECT_INT(parse_op("<op k='delete' p='a&#10;b'/>", &o, &why), 0);
	EXPECT_STR(o.path, "a\nb");
	return 0;
}

/* The Jingle name of a path that is not plain text is a fixed-size hash
 * that any peer takes as a file name, never the raw bytes. */
static int
t_wire_names(void)
{
	char w[SYNC_WIRE_NAME_MAX], w2[SYNC_WIRE_NAME_MAX];

	sync_wire_name("dir/caf\xc3\xa9.txt", w);
	EXPECT_STR(w, "dir/caf\xc3\xa9.txt");
	sync_wire_name("bad\xffname", w);
	EXPECT(strncmp(w, SYNC_WIRE_PREFIX, strlen(SYNC_WIRE_PREFIX)) == 0 &&
	    strlen(w) == strlen(SYNC_WIRE_PREFIX) + 32, "hashed name %s", w);
	sync_wire_name("bad\xfename", w2);
	EXPECT(strcmp(w, w2) != 0, "two names, one wire name");
	sync_wire_name("back\\slash", w);
	EXPECT(strncmp(w, SYNC_WIRE_PREFIX, strlen(SYNC_WIRE_PREFIX)) == 0,
	    "backslash sent raw");
	/* a real name that looks like a hashed one is hashed too */
	sync_wire_name(SYNC_WIRE_PREFIX "0123", w2);
	EXPECT(strcmp(w2, SYNC_WIRE_PREFIX "0123") != 0, "ambiguous wire name");
	EXPECT_INT(jingle_path_check(w), 0);
	EXPECT_INT(jingle_path_check(w2), 0);
	return 0;
}

static int
t_refuses_unsafe_paths(void)
{
	static char longname[256 + 1], longpath[4096 + 1];
	static char buf[NBAD + 2][2][8300], ops[2][512];
	const char *paths[NBAD + 2];
	struct refusal t[2 * (NBAD + 2) + 3];
	size_t n = 0;

	memset(longname, 'x', 256);	/* one byte over NAME_MAX */
	for (size_t i = 0; i < 4096; i++)	/* PATH_MAX bytes */
		longpath[i] = i % 100 == 99 ? '/' : 'p';
	memcpy(paths, bad_paths, sizeof(bad_paths));
	paths[NBAD] = longname;
	paths[NBAD + 1] = longpath;
	for (size_t i = 0; i < NBAD + 2; i++) {
		snprintf(buf[i][0], sizeof(buf[i][0]),
		    "<op k='put' p='%s' " PUT_REST "/>", paths[i]);
		snprintf(buf[i][1], sizeof(buf[i][1]),
		    "<op k='rename' f='%s' p='b' m='644' t='1'/>", paths[i]);
		t[n++] = (struct refusal){buf[i][0], BADPATH};
		t[n++] = (struct refusal){buf[i][1], BADPATH};
	}
	snprintf(ops[0], sizeof(ops[0]), "<op k='put' " PUT_REST "/>");
	snprintf(ops[1], sizeof(ops[1]), "<op k='rename' p='b' m='644' t='1'/>");
	t[n++] = (struct refusal){ops[0], BADPATH};	/* no p */
	t[n++] = (struct refusal){ops[1], BADPATH};	/* rename without f */
	t[n++] = (struct refusal){"<op k='delete' p='../../etc'/>", BADPATH};
	return refused(t, n);
}

static int
t_accepts_paths_at_the_limits(void)
{
	static char name255[255 + 1], path4095[4095 + 1], op[8300];
	struct sync_op o;
	const char *why;

	memset(name255, 'n', 255);
	for (size_t i = 0; i < 4095; i++)
		path4095[i] = i % 100 == 99 ? '/' : 'p';
	snprintf(op, sizeof(op), "<op k='delete' p='%s'/>", name255);
	EXPECT_INT(parse_op(op, &o, &why), 0);
	EXPECT_STR(o.path, name255);
	snprintf(op, sizeof(op), "<op k='delete' p='%s'/>", path4095);
	EXPECT_INT(parse_op(op, &o, &why), 0);
	EXPECT_INT(strlen(o.path), 4095);
	/* "..." and ".x" are names; bytes >= 0x80 need not be UTF-8 text */
	EXPECT_INT(parse_op("<op k='delete' p='.../.x/caf\xc3\xa9'/>", &o,
	    &why), 0);
	EXPECT_STR(o.path, ".../.x/caf\xc3\xa9");
	EXPECT_INT(parse_op("<op k='delete' p='a&amp;b/&lt;c&gt;&apos;'/>", &o,
	    &why), 0);
	EXPECT_STR(o.path, "a&b/<c>'");
	return 0;
}

static const struct refusal bad_numbers[] = {
	/* size, on a put */
	{"<op k='put' p='a' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='abc' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='-1' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='1e3' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5 ' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='0x5' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='9223372036854775808' h='" H64 "' m='644' t='1'/>",
	 BADNUM},
	{"<op k='put' p='a' s='99999999999999999999999' h='" H64 "' m='644'"
	 " t='1'/>", BADNUM},
	/* mode, octal, at most 07777 */
	{"<op k='mkdir' p='d' t='1'/>", BADNUM},
	{"<op k='mkdir' p='d' m='' t='1'/>", BADNUM},
	{"<op k='mkdir' p='d' m='8' t='1'/>", BADNUM},
	{"<op k='mkdir' p='d' m='759' t='1'/>", BADNUM},
	{"<op k='mkdir' p='d' m='10000' t='1'/>", BADNUM},
	{"<op k='mkdir' p='d' m='-1' t='1'/>", BADNUM},
	{"<op k='mkdir' p='d' m='0x1ff' t='1'/>", BADNUM},
	{"<op k='meta' p='d' m='755 ' t='1'/>", BADNUM},
	/* mtime, any int64 */
	{"<op k='meta' p='a' m='644'/>", BADNUM},
	{"<op k='meta' p='a' m='644' t=''/>", BADNUM},
	{"<op k='meta' p='a' m='644' t='x'/>", BADNUM},
	{"<op k='meta' p='a' m='644' t='1.5'/>", BADNUM},
	{"<op k='meta' p='a' m='644' t='9223372036854775808'/>", BADNUM},
	{"<op k='meta' p='a' m='644' t='-9223372036854775809'/>", BADNUM},
	{"<op k='symlink' p='l' l='x' m='777'/>", BADNUM},
	{"<op k='rename' f='a' p='b' m='644'/>", BADNUM},
};

static int
t_refuses_bad_sizes_modes_and_mtimes(void)
{
	return refused(ROWS(bad_numbers));
}

static const struct refusal bad_sums[] = {
	{"<op k='put' p='a' s='5' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5' h='' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5' h='" H64 "0' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5' h='123456789abcdef0123456789abcdef"
	 "0123456789abcdef0123456789abcdef' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5' h='zz23456789abcdef0123456789abcdef"
	 "0123456789abcdef0123456789abcdef' m='644' t='1'/>", BADNUM},
};

static int
t_refuses_missing_or_misshapen_checksums(void)
{
	return refused(ROWS(bad_sums));
}

static int
t_symlink_needs_a_target_under_4096_bytes(void)
{
	static char target[4096 + 1], op[8300];
	static const struct refusal t[] = {
		{"<op k='symlink' p='l' m='777' t='1'/>", BADLINK},
		{"<op k='symlink' p='l' l='' m='777' t='1'/>", BADLINK},
	};
	struct sync_op o;
	const char *why;

	EXPECT_INT(refused(ROWS(t)), 0);
	memset(target, 't', 4096);
	snprintf(op, sizeof(op), "<op k='symlink' p='l' l='%s' m='777' t='1'/>",
	    target);
	EXPECT_INT(parse_op(op, &o, &why), -EINVAL);
	EXPECT_STR(why, BADLINK);
	target[4095] = '\0';
	snprintf(op, sizeof(op), "<op k='symlink' p='l' l='%s' m='777' t='1'/>",
	    target);
	EXPECT_INT(parse_op(op, &o, &why), 0);
	EXPECT_STR(o.target, target);
	/* a target is link text, not a path in the folder: the applier
	 * never follows it, so escaping targets are mirrored as they are */
	EXPECT_INT(parse_op("<op k='symlink' p='l' l='../../etc/passwd'"
	    " m='777' t='1'/>", &o, &why), 0);
	EXPECT_STR(o.target, "../../etc/passwd");
	return 0;
}

/* XML 1.0 has no NUL and no C0 controls but tab, LF and CR, not even as
 * character references, and an attribute appears once: libstrophe makes
 * no stanza of such text, so they never reach the parser (and a C string
 * set through the API cannot hold a NUL). */
static int
t_nul_controls_and_duplicate_attributes_never_parse(void)
{
	static const char *const ops[] = {
		"<op k='put' p='a&#0;b' " PUT_REST "/>",
		"<op k='put' p='a&#1;b' " PUT_REST "/>",
		"<op k='put' p='a&#x1f;' " PUT_REST "/>",
		"<op k='put' p='ok' p='../x' " PUT_REST "/>",
		"<op k='put' k='delete' p='a' " PUT_REST "/>",
		"<op k='put' p='a' " PUT_REST,
	};
	struct sync_op o;
	const char *why;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		EXPECT(parse_op(ops[i], &o, &why) == XML_REFUSED,
		    "libstrophe took %s", ops[i]);
	return 0;
}

static int
t_accepted_op_has_exact_fields(void)
{
	static const uint8_t h8[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
	    0xcd, 0xef};	/* H64 is these 8 bytes four times */
	struct sync_op o;
	const char *why;
	uint8_t want[32];

	for (int i = 0; i < 32; i++)
		want[i] = h8[i % 8];
	EXPECT_INT(parse_op("<op k='put' p='d/a' s='9223372036854775807' h='"
	    H64 "' m='7777' t='-9223372036854775808' q='42'/>", &o, &why), 0);
	EXPECT_INT(o.kind, STORE_OP_PUT);
	EXPECT_STR(o.path, "d/a");
	EXPECT(o.from == NULL && o.target == NULL, "no from, no target");
	EXPECT(o.size == (uint64_t)INT64_MAX, "size %llu",
	    (unsigned long long)o.size);
	EXPECT_INT(o.has_sha256, 1);
	EXPECT(memcmp(o.sha256, want, 32) == 0, "sha256 from h");
	EXPECT_INT(o.mode, 07777);
	EXPECT(o.mtime_ns == INT64_MIN, "mtime %lld", (long long)o.mtime_ns);
	EXPECT_INT(o.seq, 42);
	EXPECT_INT(parse_op("<op k='rename' f='x/y' p='z' m='0' t='-1' q='3'/>",
	    &o, &why), 0);
	EXPECT_INT(o.kind, STORE_OP_RENAME);
	EXPECT_STR(o.from, "x/y");
	EXPECT_STR(o.path, "z");
	EXPECT_INT(o.mode, 0);
	EXPECT_INT(o.mtime_ns, -1);	/* before 1970 is a time */
	EXPECT_INT(o.has_sha256, 0);
	EXPECT_INT(o.size, 0);
	return 0;
}

/* delete and rmdir carry no metadata: m and t are not read at all */
static int
t_delete_and_rmdir_ignore_metadata(void)
{
	struct sync_op o;
	const char *why;

	EXPECT_INT(parse_op("<op k='delete' p='a'/>", &o, &why), 0);
	EXPECT_INT(o.kind, STORE_OP_DELETE);
	EXPECT_STR(o.path, "a");
	EXPECT_INT(parse_op("<op k='rmdir' p='d' m='zzz' t='qq' s='-1' h='x'"
	    " q='9'/>", &o, &why), 0);
	EXPECT_INT(o.kind, STORE_OP_RMDIR);
	EXPECT_INT(o.mode, 0);
	EXPECT_INT(o.mtime_ns, 0);
	EXPECT_INT(o.size, 0);
	EXPECT_INT(o.has_sha256, 0);
	EXPECT_INT(o.seq, 9);
	return 0;
}

/* q is the master's seq, for the log: the slave acts on none of it, so a
 * missing or malformed one reads as 0 rather than refusing the op; two
 * ops of a batch may carry the same q (the parser sees one op at a time) */
static int
t_seq_missing_malformed_or_repeated_reads_as_given_or_zero(void)
{
	static const struct {
		const char *q;
		int64_t seq;
	} t[] = {
		{"", 0}, {"q='12'", 12}, {"q='-5'", 0}, {"q='x'", 0},
		{"q='9223372036854775807'", INT64_MAX},
		{"q='9223372036854775808'", 0},
	};
	struct sync_op o, o2;
	char op[128];
	const char *why;
	xmpp_stanza_t *el;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(op, sizeof(op), "<op k='delete' p='a' %s/>", t[i].q);
		EXPECT_INT(parse_op(op, &o, &why), 0);
		EXPECT(o.seq == t[i].seq, "%s: seq %lld", t[i].q,
		    (long long)o.seq);
	}
	el = first_child("<op k='delete' p='a' q='5'/><op k='delete' p='b'"
	    " q='5'/>");
	EXPECT(el != NULL, "two ops");
	EXPECT_INT(sync_op_parse(el, &o, &why), 0);
	EXPECT_INT(sync_op_parse(xmpp_stanza_get_next(el), &o2, &why), 0);
	EXPECT_STR(o.path, "a");
	EXPECT_STR(o2.path, "b");
	EXPECT(o.seq == 5 && o2.seq == 5, "both seq 5");
	return 0;
}

/* ---- strictness: what a lenient parser would take ------------------ */

static const struct refusal non_hex[] = {
	/* sscanf("%2x") takes a sign, "0x", blanks, and one digit */
	{"<op k='put' p='a' s='5' h='-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1"
	 "-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5' h='+f+f+f+f+f+f+f+f+f+f+f+f+f+f+f+f"
	 "+f+f+f+f+f+f+f+f+f+f+f+f+f+f+f+f' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5' h=' f f f f f f f f f f f f f f f f"
	 " f f f f f f f f f f f f f f f f' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5' h='0x0x0x0x0x0x0x0x0x0x0x0x0x0x0x0x"
	 "0x0x0x0x0x0x0x0x0x0x0x0x0x0x0x0x' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='5' h='0z23456789abcdef0123456789abcdef"
	 "0123456789abcdef0123456789abcdef' m='644' t='1'/>", BADNUM},
};

static int
t_checksum_must_be_64_hex_digits(void)
{
	/* sscanf("%2x") would take '-', '+', blanks, "0x" and single
	 * digits and turn garbage into some other checksum */
	return refused(ROWS(non_hex));
}

static const struct refusal loose_numbers[] = {
	{"<op k='put' p='a' s=' 5' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='put' p='a' s='+5' h='" H64 "' m='644' t='1'/>", BADNUM},
	{"<op k='meta' p='a' m=' +644' t='1'/>", BADNUM},
	{"<op k='meta' p='a' m='644' t='&#9;1'/>", BADNUM},
};

static int
t_numbers_must_be_plain_digits(void)
{
	/* strtoll alone skips leading blanks and takes '+' */
	return refused(ROWS(loose_numbers));
}

static const struct refusal foreign_ns[] = {
	{"<op xmlns='urn:evil' k='delete' p='a'/>", UNKNOWN},
	{"<op xmlns='urn:xmpp-sync:meta:1' k='delete' p='a'/>", UNKNOWN},
};

static int
t_op_in_another_namespace_is_not_ours(void)
{
	/* an <op/> of another namespace inside our <sync/> is not ours */
	return refused(ROWS(foreign_ns));
}

/* ---- round trips ---------------------------------------------------- */

static uint8_t
sha_byte(int seed, int i)
{
	return (uint8_t)(seed * 31 + i * 7);
}

/* Operation i of a batch: every kind in turn, extreme values. */
static void
make_op(int i, struct sync_op *o, char *path, char *from, char *target)
{
	static const enum store_op_kind kinds[] = {STORE_OP_PUT,
	    STORE_OP_MKDIR, STORE_OP_SYMLINK, STORE_OP_META, STORE_OP_RENAME,
	    STORE_OP_DELETE, STORE_OP_RMDIR};
	static const int64_t times[] = {0, -1, INT64_MIN, INT64_MAX,
	    1795639617368488802LL};

	memset(o, 0, sizeof(*o));
	o->kind = kinds[i % 7];
	sprintf(path, "d%03d/caf\xc3\xa9 &<>'\"%d", i, i);
	o->path = path;
	o->seq = i == 0 ? INT64_MAX : i;
	if (o->kind == STORE_OP_PUT) {
		o->size = i == 0 ? (uint64_t)INT64_MAX : (uint64_t)i * 1000;
		o->has_sha256 = 1;
		for (int b = 0; b < 32; b++)
			o->sha256[b] = sha_byte(i, b);
	}
	if (o->kind == STORE_OP_RENAME) {
		sprintf(from, "old/%d & <x>", i);
		o->from = from;
	}
	if (o->kind == STORE_OP_SYMLINK) {
		sprintf(target, "../t&<'\">%d", i);
		o->target = target;
	}
	if (o->kind != STORE_OP_DELETE && o->kind != STORE_OP_RMDIR) {
		o->mode = (uint32_t)(i * 0111) & 07777;
		o->mtime_ns = times[i % 5];
	}
}

static int
same_op(const struct sync_op *a, const struct sync_op *b, int i)
{
	EXPECT(a->kind == b->kind, "op %d: kind %d, want %d", i, b->kind,
	    a->kind);
	EXPECT(strcmp(a->path, b->path) == 0, "op %d: path %s", i, b->path);
	EXPECT((a->from == NULL) == (b->from == NULL) &&
	    (a->from == NULL || strcmp(a->from, b->from) == 0),
	    "op %d: from %s", i, b->from ? b->from : "(none)");
	EXPECT((a->target == NULL) == (b->target == NULL) &&
	    (a->target == NULL || strcmp(a->target, b->target) == 0),
	    "op %d: target %s", i, b->target ? b->target : "(none)");
	EXPECT(a->size == b->size, "op %d: size %llu", i,
	    (unsigned long long)b->size);
	EXPECT(a->has_sha256 == b->has_sha256 &&
	    memcmp(a->sha256, b->sha256, 32) == 0, "op %d: sha256", i);
	EXPECT(a->mode == b->mode, "op %d: mode %o", i, b->mode);
	EXPECT(a->mtime_ns == b->mtime_ns, "op %d: mtime %lld", i,
	    (long long)b->mtime_ns);
	EXPECT(a->seq == b->seq, "op %d: seq %lld", i, (long long)b->seq);
	return 0;
}

/* A full batch (SYNC_MAX_OPS operations, every kind) built, written as
 * XML text, read back and parsed: every field comes back. */
static int
t_full_batch_round_trips_through_xml_text(void)
{
	static char path[SYNC_MAX_OPS][64], from[SYNC_MAX_OPS][64],
	    target[SYNC_MAX_OPS][64];
	static struct sync_op in[SYNC_MAX_OPS];
	struct sync_op out;
	xmpp_stanza_t *q = xmpp_stanza_new(tu_xmpp_ctx()), *back, *c;
	char *text = NULL;
	size_t len;
	const char *why;
	int n = 0;

	EXPECT(q != NULL, "stanza");
	xmpp_stanza_set_name(q, "sync");
	xmpp_stanza_set_ns(q, NS);
	for (int i = 0; i < SYNC_MAX_OPS; i++) {
		make_op(i, &in[i], path[i], from[i], target[i]);
		EXPECT_INT(sync_op_build(tu_xmpp_ctx(), q, &in[i]), 0);
	}
	EXPECT_INT(xmpp_stanza_to_text(q, &text, &len), 0);
	xmpp_stanza_release(q);
	back = xmpp_stanza_new_from_string(tu_xmpp_ctx(), text);
	xmpp_free(tu_xmpp_ctx(), text);
	EXPECT(back != NULL, "libstrophe reads back what it wrote");
	for (c = xmpp_stanza_get_children(back); c; c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c))
			continue;
		EXPECT(n < SYNC_MAX_OPS, "more ops than built");
		if (sync_op_parse(c, &out, &why) != 0) {
			printf("  op %d refused: %s\n", n, why);
			xmpp_stanza_release(back);
			return -1;
		}
		if (same_op(&in[n], &out, n) < 0) {
			xmpp_stanza_release(back);
			return -1;
		}
		n++;
	}
	xmpp_stanza_release(back);
	EXPECT_INT(n, SYNC_MAX_OPS);
	return 0;
}

static int
t_kind_names_are_the_wire_names(void)
{
	static const char *const want[] = {"?", "put", "delete", "mkdir",
	    "rmdir", "rename", "meta", "symlink", "?"};

	for (int k = 0; k <= STORE_OP_SYMLINK + 1; k++)
		EXPECT_STR(sync_kind_name((enum store_op_kind)k), want[k]);
	EXPECT_STR(sync_kind_name((enum store_op_kind)-1), "?");
	return 0;
}

/* ---- manifest entries ----------------------------------------------- */

static int
t_manifest_entries_round_trip(void)
{
	struct store_file f[3] = {
		{.path = "docs/b & <c>.txt", .type = STORE_FILE,
		 .size = INT64_MAX, .mode = 0644, .mtime_ns = INT64_MIN,
		 .has_sha256 = 1},
		{.path = "docs/sub", .type = STORE_DIR, .mode = 07755,
		 .mtime_ns = 1795639617000000000LL},
		{.path = "link", .type = STORE_SYMLINK, .mode = 0777,
		 .mtime_ns = -1, .target = "../x'\""},
	};
	xmpp_stanza_t *m = xmpp_stanza_new(tu_xmpp_ctx()), *back, *c;
	struct plan_entry e;
	char *text;
	size_t len;
	int i = 0;

	for (int b = 0; b < 32; b++)
		f[0].sha256[b] = sha_byte(99, b);
	xmpp_stanza_set_name(m, "manifest");
	xmpp_stanza_set_ns(m, NS);
	for (int k = 0; k < 3; k++)
		EXPECT_INT(sync_entry_build(tu_xmpp_ctx(), m, &f[k]), 0);
	EXPECT_INT(xmpp_stanza_to_text(m, &text, &len), 0);
	xmpp_stanza_release(m);
	back = xmpp_stanza_new_from_string(tu_xmpp_ctx(), text);
	xmpp_free(tu_xmpp_ctx(), text);
	EXPECT(back != NULL, "read back");
	for (c = xmpp_stanza_get_children(back); c && i < 3;
	    c = xmpp_stanza_get_next(c), i++) {
		int ok;
		EXPECT_INT(sync_entry_parse(c, &e), 0);
		ok = strcmp(e.path, f[i].path) == 0 && e.type == f[i].type &&
		    e.size == f[i].size && e.mode == f[i].mode &&
		    e.mtime_ns == f[i].mtime_ns &&
		    e.has_sha256 == f[i].has_sha256 &&
		    memcmp(e.sha256, f[i].sha256, 32) == 0 &&
		    (f[i].target ? e.target && strcmp(e.target, f[i].target) == 0 :
		    e.target == NULL);
		plan_entries_clear(&e, 1);
		EXPECT(ok, "entry %d differs after the round trip", i);
	}
	xmpp_stanza_release(back);
	EXPECT_INT(i, 3);
	return 0;
}

static int
t_manifest_entry_refusals_and_defaults(void)
{
	static const char *const bad[] = {
		"<e p='a' s='0' m='644' t='1'/>",		/* no y */
		"<e p='a' y='' s='0' m='644' t='1'/>",
		"<e p='a' y='x' s='0' m='644' t='1'/>",
		"<e p='a' y='fd' s='0' m='644' t='1'/>",
		"<e y='f' s='0' m='644' t='1'/>",		/* no p */
		"<e p='../a' y='f' s='0' m='644' t='1'/>",
		"<e p='.xmpp-sync-tmp.q' y='f' s='0' m='644' t='1'/>",
		"<e p='a' y='f' s='-1' m='644' t='1'/>",
		"<e p='a' y='f' m='644' t='1'/>",
		"<e p='a' y='f' s='0' m='8' t='1'/>",
		"<e p='a' y='f' s='0' m='644' t='x'/>",
		"<e p='a' y='f' s='0' m='644'/>",
	};
	struct plan_entry e;
	xmpp_stanza_t *el;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		el = first_child(bad[i]);
		EXPECT(el != NULL, "XML of %s", bad[i]);
		EXPECT(sync_entry_parse(el, &e) == -EINVAL, "took %s", bad[i]);
		EXPECT(e.path == NULL && e.target == NULL, "nothing to free");
	}
	/* a checksum that is not one leaves the entry without one (the
	 * master then sends the file); a link without l has no target */
	el = first_child("<e p='a' y='f' s='3' m='644' t='1' h='nothex'/>");
	EXPECT_INT(sync_entry_parse(el, &e), 0);
	EXPECT_INT(e.has_sha256, 0);
	EXPECT_INT(e.size, 3);
	plan_entries_clear(&e, 1);
	el = first_child("<e p='l' y='l' s='0' m='777' t='1'/>");
	EXPECT_INT(sync_entry_parse(el, &e), 0);
	EXPECT_INT(e.type, STORE_SYMLINK);
	EXPECT(e.target == NULL, "no target");
	plan_entries_clear(&e, 1);
	return 0;
}

#define T(name) {#name, t_##name}

/* A put names its transfer by an opaque name (w): read back exactly, and
 * only in the form sync_opaque_name() makes; no w is no name. */
static const struct refusal bad_wire[] = {
	{"<op k='put' p='a' s='5' h='" H64 "' m='644' t='1' w=''/>",
	 "bad transfer name"},
	{"<op k='put' p='a' s='5' h='" H64 "' m='644' t='1' w='a.txt'/>",
	 "bad transfer name"},
	{"<op k='put' p='a' s='5' h='" H64 "' m='644' t='1' "
	 "w='xs-00112233445566778899aabbccddeeF'/>", "bad transfer name"},
	{"<op k='put' p='a' s='5' h='" H64 "' m='644' t='1' "
	 "w='xs-00112233445566778899aabbccddeeff0'/>", "bad transfer name"},
	{"<op k='put' p='a' s='5' h='" H64 "' m='644' t='1' "
	 "w='../112233445566778899aabbccddeeff00'/>", "bad transfer name"},
};

static int
t_put_carries_an_opaque_transfer_name(void)
{
	char a[SYNC_OPAQUE_SIZE], b[SYNC_OPAQUE_SIZE];
	struct sync_op o;
	const char *why;

	sync_opaque_name(a);
	sync_opaque_name(b);
	EXPECT_INT(strlen(a), SYNC_OPAQUE_SIZE - 1);
	EXPECT(strcmp(a, b) != 0, "two random names are equal: %s", a);
	EXPECT_INT(sync_opaque_check(a), 0);
	EXPECT_INT(parse_op("<op k='put' p='a' s='5' h='" H64 "' m='644' t='1' "
	    "w='xs-00112233445566778899aabbccddeeff'/>", &o, &why), 0);
	EXPECT_STR(o.wire, "xs-00112233445566778899aabbccddeeff");
	EXPECT_INT(parse_op("<op k='put' p='a' s='5' h='" H64 "' m='644' "
	    "t='1'/>", &o, &why), 0);
	EXPECT(o.wire == NULL, "a name from nowhere");
	return refused(ROWS(bad_wire));
}

/* The size the master budgets for an <op/> (sync_op_wire_max(), plus the
 * opaque name and the bundle flag it adds) is never less than what the
 * builder writes, whatever the names; and the bundle flag comes back. */
static int
t_wire_size_bounds_the_built_op(void)
{
	static const struct {
		const char *path, *from, *target;
	} rows[] = {
		{"a", NULL, NULL},
		{"dir/sub/file.txt", NULL, NULL},
		{"&&&&''''\"\"<<>>", NULL, NULL},
		{"a&b/c'd", "x\"y/<z>", NULL},
		{"\x01" "ctl/\xff\xfe" "bytes", "\x80", NULL},
		{"link", NULL, "../&target'\"<>"},
		{"\xc3\xa9t\xc3\xa9/caf\xc3\xa9", NULL, NULL},
	};
	xmpp_ctx_t *ctx = tu_xmpp_ctx();
	char wire[SYNC_OPAQUE_SIZE];
	struct sync_op back;
	const char *why;

	sync_opaque_name(wire);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sync_op o = {.kind = rows[i].target ? STORE_OP_SYMLINK :
		    rows[i].from ? STORE_OP_RENAME : STORE_OP_PUT,
		    .path = rows[i].path, .from = rows[i].from,
		    .target = rows[i].target, .size = i % 2 ? UINT64_C(1) << 62 :
		    SYNC_BUNDLE_MEMBER_MAX,
		    .has_sha256 = 1, .mode = 07777, .mtime_ns = INT64_MIN,
		    .seq = INT64_MAX, .bundled = 1};
		xmpp_stanza_t *q = xmpp_stanza_new(ctx), *el;
		size_t budget = sync_op_wire_max(o.path, o.from, o.target) +
		    SYNC_OPAQUE_SIZE + 8 + 8, len;
		char *xml = NULL;

		memset(o.sha256, 0xab, 32);
		if (o.kind == STORE_OP_PUT)
			o.wire = wire;
		xmpp_stanza_set_name(q, "sync");
		EXPECT_INT(sync_op_build(ctx, q, &o), 0);
		EXPECT_INT(xmpp_stanza_to_text(xmpp_stanza_get_children(q),
		    &xml, &len), 0);
		xmpp_stanza_release(q);
		EXPECT(len <= budget, "row %zu: %zu bytes built, %zu budgeted",
		    i, len, budget);
		el = first_child(xml);
		xmpp_free(ctx, xml);
		EXPECT(el != NULL, "row %zu parses", i);
		EXPECT_INT(sync_op_parse(el, &back, &why), 0);
		EXPECT_INT(back.bundled, o.kind == STORE_OP_PUT &&
		    o.size <= SYNC_BUNDLE_MEMBER_MAX);
	}
	/* a delete or rmdir has a budget of its own, smaller */
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sync_op o = {.kind = i % 2 ? STORE_OP_DELETE :
		    STORE_OP_RMDIR, .path = rows[i].path, .seq = INT64_MAX};
		xmpp_stanza_t *q = xmpp_stanza_new(ctx);
		size_t budget = sync_remove_wire_max(o.path), len;
		char *xml = NULL;

		xmpp_stanza_set_name(q, "sync");
		EXPECT_INT(sync_op_build(ctx, q, &o), 0);
		EXPECT_INT(xmpp_stanza_to_text(xmpp_stanza_get_children(q),
		    &xml, &len), 0);
		xmpp_stanza_release(q);
		xmpp_free(ctx, xml);
		EXPECT(len <= budget, "remove row %zu: %zu bytes built, %zu "
		    "budgeted", i, len, budget);
	}
	/* a put with content, one beyond the member limit, or a flag that
	 * is not "1" is never in the bundle, whatever the master says */
	EXPECT_INT(parse_op("<op k='put' p='e' c='aGk=' g='1' s='2' h='" H64
	    "' m='644' t='1'/>", &back, &why), 0);
	EXPECT_INT(back.bundled, 0);
	EXPECT_INT(parse_op("<op k='put' p='e' g='1' s='1048577' h='" H64
	    "' m='644' t='1'/>", &back, &why), 0);
	EXPECT_INT(back.bundled, 0);
	EXPECT_INT(parse_op("<op k='put' p='e' g='yes' s='5' h='" H64
	    "' m='644' t='1'/>", &back, &why), 0);
	EXPECT_INT(back.bundled, 0);
	return 0;
}

static const struct unit_test tests[] = {
	T(put_carries_an_opaque_transfer_name),
	T(wire_size_bounds_the_built_op),
	T(refuses_unknown_kinds_and_elements),
	T(refuses_unsafe_paths),
	T(names_are_bytes),
	T(wire_names),
	T(accepts_paths_at_the_limits),
	T(refuses_bad_sizes_modes_and_mtimes),
	T(refuses_missing_or_misshapen_checksums),
	T(symlink_needs_a_target_under_4096_bytes),
	T(nul_controls_and_duplicate_attributes_never_parse),
	T(accepted_op_has_exact_fields),
	T(delete_and_rmdir_ignore_metadata),
	T(seq_missing_malformed_or_repeated_reads_as_given_or_zero),
	T(checksum_must_be_64_hex_digits),
	T(numbers_must_be_plain_digits),
	T(op_in_another_namespace_is_not_ours),
	T(full_batch_round_trips_through_xml_text),
	T(kind_names_are_the_wire_names),
	T(manifest_entries_round_trip),
	T(manifest_entry_refusals_and_defaults),
	T(inline_content_round_trips_and_is_bounded),
	T(delta_mark_round_trips_and_only_1_means_yes),
};

int
main(int argc, char **argv)
{
	int r = unit_run("test_syncproto.c", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);

	tu_xmpp_done();
	return r;
}
