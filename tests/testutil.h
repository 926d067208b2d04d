/* testutil.h -- helpers the unit tests share (tu_): a temporary directory,
 * a tree built from a table, whole files read and written, two trees
 * compared, and a tree removed. Nothing here runs a shell: tests must not
 * depend on rm, chmod or head, nor pass paths through a command line.
 *
 * Every function returns 0 or a negative errno (tu_tree_compare() also
 * returns 1 for "different") and logs nothing unless it says so; a test
 * states what it expected with EXPECT. Linked into every test binary.
 */
#ifndef XS_TESTUTIL_H
#define XS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where tu_tmpdir() makes directories; a test's leftovers are easy to
 * find and remove by this name. */
#define TU_TMP_TEMPLATE "/tmp/xs-test.XXXXXX"

/* Makes a new, empty directory from TU_TMP_TEMPLATE (mkdtemp, mode 0700)
 * and writes its path into buf. Returns 0, -ENAMETOOLONG if buf is
 * shorter than the template, or mkdtemp's -errno. Remove it with
 * tu_rmtree(). */
int tu_tmpdir(char *buf, size_t size);

/* One row of a tree table for tu_tree_make() (name the fields: -Wextra
 * warns about rows that leave positional ones out):
 *
 *     {.path = "docs/"}                              a directory
 *     {.path = "docs/a.txt", .content = "hello\n"}   a file
 *     {.path = "run.sh", .content = "#!/bin/sh\n", .mode = 0755}
 *     {.path = "link", .link = "docs/a.txt"}         a symlink
 *     {.path = "old/", .mode = 0555, .mtime_ns = T}  mode and time
 */
struct tu_node {
	const char *path;	/* relative to the root; '/' at the end: dir */
	const char *content;	/* a file's bytes; NULL: an empty file */
	const char *link;	/* not NULL: a symlink with this target */
	mode_t mode;		/* 0: 0644 for files, 0755 for directories */
	int64_t mtime_ns;	/* 0: whatever time creation left */
};

/* Builds count nodes below the existing directory root, in table order,
 * making missing parent directories (0755). Modes are set exactly (the
 * umask does not apply). Directory modes and times are set after every
 * node exists, deepest first, so a read-only directory can still hold
 * files and its mtime is not disturbed by making its children. A node
 * that is already there as the same type is updated, not an error.
 * Returns 0 or -errno; the failing path goes to stderr. */
int tu_tree_make(const char *root, const struct tu_node *nodes,
    size_t count);

/* Writes len bytes to path, created or truncated, and sets its mode
 * (exactly: the umask does not apply). Returns 0 or -errno. */
int tu_write_file(const char *path, const void *buf, size_t len,
    mode_t mode);

/* Reads the whole file at path (not following a final symlink). Returns 0
 * and sets *buf, which holds the bytes and one NUL after them (so text can
 * be used as a string; the caller frees), and *len when not NULL; or
 * -errno (-ELOOP for a symlink). */
int tu_read_file(const char *path, char **buf, size_t *len);

#define TU_CMP_MODE	1	/* permission bits must be equal too */
#define TU_CMP_MTIME	2	/* mtimes (to the nanosecond) too */

/* Compares the trees below directories a and b: the same names, each of
 * the same type (file, directory, symlink), files with the same bytes,
 * symlinks with the same target (never followed); with the flags above
 * also the same modes (not of symlinks) and mtimes. The roots' own modes
 * and times are not compared. Any other file type is a difference.
 * Returns 0 when equal; 1 when not, with the first difference in why
 * (e.g. "d/x: content differs"; names in byte order); or -errno when a
 * tree cannot be read (why says where). why may be NULL. */
int tu_tree_compare(const char *a, const char *b, int flags, char *why,
    size_t whylen);

/* Removes path and everything below it, never following a symlink.
 * Directories get u+rwx before they are read, so what a test made
 * read-only or unreadable goes too. A missing path is not an error.
 * Returns 0, or the -errno of the first failure (it goes on with the
 * rest and prints the failing path to stderr). */
int tu_rmtree(const char *path);

/* ---- stanzas, for the protocol parsers' tests ---------------------- */

struct _xmpp_ctx_t;
struct _xmpp_stanza_t;

/* The test's libstrophe context, made on first use. Returns it
 * (borrowed); tu_xmpp_done() frees it. */
struct _xmpp_ctx_t *tu_xmpp_ctx(void);

/* Parses xml as it would come off the wire and holds the stanza until the
 * next call or tu_xmpp_done(), so that strings parsed from it stay valid.
 * Returns it (borrowed), or NULL if libstrophe refuses the text. */
struct _xmpp_stanza_t *tu_stanza_parse(const char *xml);

/* Releases the held stanza and the context, and shuts libstrophe down.
 * Returns nothing. */
void tu_xmpp_done(void);

#endif
