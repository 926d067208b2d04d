/* test_digestproto.c -- the <digest/> request and answer of the index
 * digest exchange (agent/mirror/digestproto.c) fed hostile XML: every
 * refusal names its reason, every bound holds exactly at its limit, and
 * what the builder writes comes back field for field after a trip
 * through XML text. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>

#include "agent/mirror/mirror_int.h"
#include "store/store.h"
#include "tests/testutil.h"
#include "tests/unit.h"

#define NS "urn:xmpp-sync:meta:0"
#define H64 "0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef"

/* <digest xmlns=NS attrs>inner</digest>, parsed as an answer. */
static int
answer(const char *attrs, const char *inner, const char *after,
    struct sync_digest *d, const char **why)
{
	size_t n = strlen(attrs) + strlen(inner) + 64;
	char *xml = malloc(n);
	xmpp_stanza_t *el;

	*why = "";
	if (xml == NULL)
		return -ENOMEM;
	snprintf(xml, n, "<digest xmlns='" NS "' %s>%s</digest>", attrs, inner);
	el = tu_stanza_parse(xml);
	free(xml);
	if (el == NULL)
		return -EBADMSG;
	return sync_digest_parse(el, after, d, why);
}

#define DIR_ATTRS "y='d' m='755' h='" H64 "'"

static int
t_request_root_path_and_after(void)
{
	struct sync_digest_request rq;
	const char *why;
	xmpp_stanza_t *el;

	el = tu_stanza_parse("<digest xmlns='" NS "'/>");
	EXPECT_INT(sync_digest_request_parse(el, &rq, &why), 0);
	EXPECT(rq.path == NULL && rq.after == NULL, "root, from the start");
	el = tu_stanza_parse("<digest xmlns='" NS "' path='a/b c' after='x.txt'/>");
	EXPECT_INT(sync_digest_request_parse(el, &rq, &why), 0);
	EXPECT_STR(rq.path, "a/b c");
	EXPECT_STR(rq.after, "x.txt");
	/* names that are not plain text come as base64 of their bytes */
	el = tu_stanza_parse("<digest xmlns='" NS "' path64='YS//' after64='/mI='/>");
	EXPECT_INT(sync_digest_request_parse(el, &rq, &why), 0);
	EXPECT_STR(rq.path, "a/\xff");
	EXPECT_STR(rq.after, "\xfe\x62");
	return 0;
}

/* Names are bytes: control characters are allowed (as base64 when XML
 * cannot carry them), only '/', NUL, "." and ".." and our temp names are
 * not. */
static int
t_names_with_control_bytes_are_names(void)
{
	struct sync_digest_request rq;
	struct sync_digest got;
	const char *why;

	EXPECT_INT(answer(DIR_ATTRS, "<c n='a&#x9;b' y='f' h='" H64 "'/>"
	    "<c n64='bQE=' y='f' h='" H64 "'/>", NULL, &got, &why), 0);
	EXPECT_INT(got.n, 2);
	EXPECT_STR(got.c[0].name, "a\tb");
	EXPECT_STR(got.c[1].name, "m\x01");
	EXPECT_INT(sync_digest_request_parse(tu_stanza_parse("<digest xmlns='" NS
	    "' path64='ZAF4' after64='AQ=='/>"), &rq, &why), 0);
	EXPECT_STR(rq.path, "d\x01x");
	EXPECT_STR(rq.after, "\x01");
	return 0;
}

static int
t_request_round_trips_names_that_are_not_text(void)
{
	struct sync_digest_request rq;
	xmpp_stanza_t *iq = xmpp_stanza_new(tu_xmpp_ctx());
	const char *why;
	char *text;
	size_t len;

	xmpp_stanza_set_name(iq, "iq");
	EXPECT_INT(sync_digest_request_build(tu_xmpp_ctx(), iq, "d\xe9j\xe0/x",
	    "caf\xe9 \"&<'"), 0);
	EXPECT_INT(xmpp_stanza_to_text(iq, &text, &len), 0);
	xmpp_stanza_release(iq);
	EXPECT(strstr(text, "path64=") != NULL, "latin-1 path as base64: %s",
	    text);
	iq = tu_stanza_parse(text);
	xmpp_free(tu_xmpp_ctx(), text);
	EXPECT(iq != NULL, "our own XML parses");
	EXPECT_INT(sync_digest_request_parse(xmpp_stanza_get_children(iq), &rq,
	    &why), 0);
	EXPECT_STR(rq.path, "d\xe9j\xe0/x");
	EXPECT_STR(rq.after, "caf\xe9 \"&<'");
	return 0;
}

static int
t_request_refuses_unsafe_path_or_after(void)
{
	static const char *const bad[] = {
		"path='../x'", "path='/etc'", "path='a//b'", "path='a/'",
		"path=''", "path='a/./b'", "path='.xmpp-sync-tmp.1'",
		"after='a/b'", "after='..'", "after='.'",
		"after=''", "after='.xmpp-sync-tmp.x'",
		"path64='Li4vZXRj'", "path64='not base64!'",
		"path='a' path64='YQ=='", "after64='YS9i'",
		"after64='YQBi'",
	};
	struct sync_digest_request rq;
	const char *why;
	char xml[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		xmpp_stanza_t *el;

		snprintf(xml, sizeof(xml), "<digest xmlns='" NS "' %s/>", bad[i]);
		el = tu_stanza_parse(xml);
		EXPECT(el != NULL, "XML of %s", bad[i]);
		EXPECT(sync_digest_request_parse(el, &rq, &why) == -EINVAL,
		    "took %s", bad[i]);
	}
	return 0;
}

static int
t_answer_round_trips_through_xml_text(void)
{
	static const char *const names[] = {"a", "a.b", "a0", "q'\"<&>",
	    "sp ace", "z\xc3\xa9", "\xe9t\xe9", "\xff\xfe raw"};
	xmpp_ctx_t *ctx = tu_xmpp_ctx();
	xmpp_stanza_t *el = xmpp_stanza_new(ctx);
	struct store_digest d = {.type = STORE_DIR, .mode = 04755};
	struct store_digest_child c;
	struct sync_digest got;
	const char *why;
	char *text;
	size_t len;

	xmpp_stanza_set_name(el, "digest");
	xmpp_stanza_set_ns(el, NS);
	for (int i = 0; i < 32; i++)
		d.digest[i] = (uint8_t)(i * 37);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		c.name = names[i];
		c.type = (enum store_ftype)(STORE_FILE + i % 3);
		memset(c.digest, (int)i, sizeof(c.digest));
		EXPECT_INT(sync_digest_child_build(ctx, el, &c), 0);
	}
	EXPECT_INT(sync_digest_answer_set(el, "p/q", &d, 1), 0);
	EXPECT_INT(xmpp_stanza_to_text(el, &text, &len), 0);
	xmpp_stanza_release(el);
	el = tu_stanza_parse(text);
	xmpp_free(ctx, text);
	EXPECT(el != NULL, "our own XML parses");
	EXPECT_STR(xmpp_stanza_get_attribute(el, "path"), "p/q");
	EXPECT_INT(sync_digest_parse(el, NULL, &got, &why), 0);
	EXPECT_INT(got.type, STORE_DIR);
	EXPECT_INT(got.mode, 04755);
	EXPECT_INT(got.more, 1);
	EXPECT(memcmp(got.digest, d.digest, 32) == 0, "digest");
	EXPECT_INT(got.n, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < got.n; i++) {
		EXPECT_STR(got.c[i].name, names[i]);
		EXPECT_INT(got.c[i].type, STORE_FILE + i % 3);
		EXPECT_INT(got.c[i].digest[31], i);
	}
	return 0;
}

static int
t_answer_for_file_link_or_nothing(void)
{
	struct store_digest d = {.type = 0};
	struct sync_digest got;
	xmpp_stanza_t *el = xmpp_stanza_new(tu_xmpp_ctx());
	const char *why;

	xmpp_stanza_set_name(el, "digest");
	EXPECT_INT(sync_digest_answer_set(el, "gone", &d, 0), 0);
	EXPECT_STR(xmpp_stanza_get_attribute(el, "y"), "-");
	EXPECT(xmpp_stanza_get_attribute(el, "h") == NULL, "no digest");
	EXPECT_INT(sync_digest_parse(el, NULL, &got, &why), 0);
	EXPECT_INT(got.type, 0);
	xmpp_stanza_release(el);
	EXPECT_INT(answer("y='l' h='" H64 "'", "", NULL, &got, &why), 0);
	EXPECT_INT(got.type, STORE_SYMLINK);
	EXPECT_INT(got.n, 0);
	EXPECT_INT(answer("y='f' h='" H64 "' m='99999'", "", NULL, &got, &why),
	    0);
	EXPECT_INT(got.type, STORE_FILE);
	return 0;
}

static const struct {
	const char *attrs, *inner, *after, *why;
} refused[] = {
	{"y='x' h='" H64 "'", "", NULL, "bad kind"},
	{"y='dd' m='755' h='" H64 "'", "", NULL, "bad kind"},
	{"m='755' h='" H64 "'", "", NULL, "bad kind"},
	{"y='d' m='755'", "", NULL, "bad digest"},
	{"y='d' m='755' h='" H64 "0'", "", NULL, "bad digest"},
	{"y='d' m='755' h='0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdeg'", "", NULL, "bad digest"},
	{"y='f'", "", NULL, "bad digest"},
	{"y='d' m='10000' h='" H64 "'", "", NULL, "bad mode"},
	{"y='d' m='-1' h='" H64 "'", "", NULL, "bad mode"},
	{"y='d' m='8' h='" H64 "'", "", NULL, "bad mode"},
	{"y='d' h='" H64 "'", "", NULL, "bad mode"},
	{DIR_ATTRS " more='2'", "", NULL, "bad more"},
	{DIR_ATTRS " more='1'", "", NULL, "more without children"},
	{"y='f' h='" H64 "'", "<c n='a' y='f' h='" H64 "'/>", NULL,
	    "children of something not a directory"},
	{"y='-'", "<c n='a' y='f' h='" H64 "'/>", NULL,
	    "children of something not a directory"},
	{DIR_ATTRS, "<x n='a' y='f' h='" H64 "'/>", NULL, "not a child entry"},
	{DIR_ATTRS, "<c xmlns='urn:evil' n='a' y='f' h='" H64 "'/>", NULL,
	    "not a child entry"},
	{DIR_ATTRS, "<c y='f' h='" H64 "'/>", NULL, "unsafe name"},
	{DIR_ATTRS, "<c n='' y='f' h='" H64 "'/>", NULL, "unsafe name"},
	{DIR_ATTRS, "<c n='a/b' y='f' h='" H64 "'/>", NULL, "unsafe name"},
	{DIR_ATTRS, "<c n='..' y='d' h='" H64 "'/>", NULL, "unsafe name"},
	{DIR_ATTRS, "<c n='.' y='d' h='" H64 "'/>", NULL, "unsafe name"},
	{DIR_ATTRS, "<c n='.xmpp-sync-tmp.abc' y='f' h='" H64 "'/>", NULL,
	    "unsafe name"},
	{DIR_ATTRS, "<c n='b' y='f' h='" H64 "'/><c n='a' y='f' h='" H64 "'/>",
	    NULL, "names out of order"},
	{DIR_ATTRS, "<c n='a' y='f' h='" H64 "'/><c n='a' y='d' h='" H64 "'/>",
	    NULL, "names out of order"},
	{DIR_ATTRS, "<c n='m' y='f' h='" H64 "'/>", "m", "names out of order"},
	{DIR_ATTRS, "<c n='a' y='f' h='" H64 "'/>", "m", "names out of order"},
	{DIR_ATTRS, "<c n64='YS9i' y='f' h='" H64 "'/>", NULL, "unsafe name"},
	{DIR_ATTRS, "<c n64='Li4=' y='d' h='" H64 "'/>", NULL, "unsafe name"},
	{DIR_ATTRS, "<c n64='%%%' y='f' h='" H64 "'/>", NULL, "unsafe name"},
	{DIR_ATTRS, "<c n='a' n64='YQ==' y='f' h='" H64 "'/>", NULL,
	    "unsafe name"},
	{DIR_ATTRS, "<c n64='/w==' y='f' h='" H64 "'/><c n='a' y='f' h='" H64
	    "'/>", NULL, "names out of order"},
	{DIR_ATTRS, "<c n='a' y='-' h='" H64 "'/>", NULL,
	    "bad child kind or digest"},
	{DIR_ATTRS, "<c n='a' y='f'/>", NULL, "bad child kind or digest"},
	{DIR_ATTRS, "<c n='a' y='f' h='xyz'/>", NULL,
	    "bad child kind or digest"},
};

static int
t_answer_refusals_name_their_reason(void)
{
	struct sync_digest got;
	const char *why;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int r = answer(refused[i].attrs, refused[i].inner,
		    refused[i].after, &got, &why);
		EXPECT(r == -EINVAL, "row %zu took %s %s", i, refused[i].attrs,
		    refused[i].inner);
		EXPECT(strcmp(why, refused[i].why) == 0,
		    "row %zu: why = \"%s\", want \"%s\"", i, why, refused[i].why);
		EXPECT_INT(got.n, 0);
	}
	return 0;
}

/* n children, names of len bytes (the last one of last bytes), in
 * order. The caller frees. */
static char *
children(size_t n, size_t len, size_t last)
{
	char *buf = malloc(n * (len + 100) + last + 1), *p = buf;

	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char name[256];
		size_t l = i + 1 == n ? last : len;
		snprintf(name, sizeof(name), "%06zu", i);
		memset(name + 6, 'x', l - 6);
		name[l] = '\0';
		p += sprintf(p, "<c n='%s' y='f' h='" H64 "'/>", name);
	}
	*p = '\0';
	return buf;
}

static int
page_is(size_t n, size_t len, size_t last, int want, const char *want_why)
{
	struct sync_digest *got = malloc(sizeof(*got));
	char *c = children(n, len, last);
	const char *why = "";
	int r = -ENOMEM;

	if (got && c)
		r = answer(DIR_ATTRS " more='1'", c, NULL, got, &why);
	free(c);
	EXPECT_INT(r, want);
	EXPECT_INT(got->n, want == 0 ? n : 0);
	free(got);
	if (want < 0)
		EXPECT_STR(why, want_why);
	return 0;
}

/* n children sent as base64 (names of len bytes starting with 0xff, the
 * last one of last bytes): the decoded names must all fit the page. */
static char *
children64(size_t n, size_t len, size_t last)
{
	char *buf = malloc(n * (len * 2 + 100) + 1), *p = buf;

	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char name[256];
		size_t l = i + 1 == n ? last : len;
		char *b;

		memset(name, 'x', l);
		name[0] = 0xff;
		name[1] = (unsigned char)('0' + i / 100);
		name[2] = (unsigned char)('0' + i / 10 % 10);
		name[3] = (unsigned char)('0' + i % 10);
		b = xmpp_base64_encode(tu_xmpp_ctx(), name, l);
		p += sprintf(p, "<c n64='%s' y='f' h='" H64 "'/>", b);
		xmpp_free(tu_xmpp_ctx(), b);
	}
	*p = '\0';
	return buf;
}

static int
t_answer_base64_names_fill_the_page_exactly(void)
{
	struct sync_digest *got = malloc(sizeof(*got));
	char *c = children64(129, 255, 128);
	const char *why = "";
	int r = -ENOMEM;

	if (got && c)
		r = answer(DIR_ATTRS, c, NULL, got, &why);
	free(c);
	EXPECT_INT(r, 0);
	EXPECT_INT(got->n, 129);
	EXPECT_INT(strlen(got->c[128].name), 128);
	EXPECT_INT((unsigned char)got->c[0].name[0], 0xff);
	c = children64(129, 255, 129);
	r = c ? answer(DIR_ATTRS, c, NULL, got, &why) : -ENOMEM;
	free(c);
	free(got);
	EXPECT_INT(r, -EINVAL);
	return 0;
}

static int
t_answer_counts_and_name_bytes_bounded_exactly(void)
{
	/* 400 children pass, 401 do not */
	EXPECT_INT(page_is(SYNC_DIGEST_PAGE, 8, 8, 0, ""), 0);
	EXPECT_INT(page_is(SYNC_DIGEST_PAGE + 1, 8, 8, -EINVAL,
	    "too many children"), 0);
	/* 32768 bytes of names pass (128 of 255 and one of 128), one more
	 * byte does not */
	EXPECT_INT(page_is(129, 255, 128, 0, ""), 0);
	return page_is(129, 255, 129, -EINVAL, "too many bytes of names");
}

static int
t_answer_name_longer_than_name_max_refused(void)
{
	char name[300], xml[512];
	struct sync_digest got;
	const char *why;

	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(xml, sizeof(xml), "<c n='%s' y='f' h='" H64 "'/>", name);
	EXPECT_INT(answer(DIR_ATTRS, xml, NULL, &got, &why), -EINVAL);
	EXPECT_STR(why, "unsafe name");
	name[255] = '\0';
	snprintf(xml, sizeof(xml), "<c n='%s' y='f' h='" H64 "'/>", name);
	EXPECT_INT(answer(DIR_ATTRS, xml, NULL, &got, &why), 0);
	EXPECT_INT(got.n, 1);
	return 0;
}

static int
t_names_sort_bytewise_not_by_locale(void)
{
	struct sync_digest got;
	const char *why;

	/* 0xc3 (UTF-8 lead byte) sorts after 'z'; '.' before '0' */
	EXPECT_INT(answer(DIR_ATTRS, "<c n='a.b' y='f' h='" H64 "'/>"
	    "<c n='a0' y='f' h='" H64 "'/><c n='z' y='f' h='" H64 "'/>"
	    "<c n='\xc3\xa9' y='f' h='" H64 "'/>", "a", &got, &why), 0);
	EXPECT_INT(got.n, 4);
	return 0;
}

#define T(name) {#name, t_##name}

static const struct unit_test tests[] = {
	T(request_root_path_and_after),
	T(request_round_trips_names_that_are_not_text),
	T(names_with_control_bytes_are_names),
	T(request_refuses_unsafe_path_or_after),
	T(answer_round_trips_through_xml_text),
	T(answer_for_file_link_or_nothing),
	T(answer_refusals_name_their_reason),
	T(answer_counts_and_name_bytes_bounded_exactly),
	T(answer_base64_names_fill_the_page_exactly),
	T(answer_name_longer_than_name_max_refused),
	T(names_sort_bytewise_not_by_locale),
};

int
main(int argc, char **argv)
{
	int r = unit_run("test_digestproto.c", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);

	tu_xmpp_done();
	return r;
}
