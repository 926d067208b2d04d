/* path.h -- path rules: what a relative path may look like, ignore
 * patterns, our temp files, and opening beneath a root without leaving it.
 *
 * Every path that names something in the mirrored folder is relative to
 * its root, '/'-separated, and normalised: no empty, "." or ".."
 * components, no leading, trailing or double slash.
 *
 * A path is checked once, where it enters: the scanner checks each name
 * it reads, the master checks each watcher event (path_check_synced(),
 * then path_ignored()), and the protocol parser (agent/mirror/syncproto.c)
 * checks every path from the network with path_check_synced(). Inner
 * layers (the planner, the hasher, the store) take the checked value and
 * say so in their contracts. Two modules keep their own check as a last
 * gate: the applier, whose every path comes from the network, and the
 * openers below, which would otherwise follow a ".." out of the root;
 * they also refuse to follow a symlink planted inside the tree.
 *
 * Predicates (path_is_temp, path_ignored, path_glob_match) return 1 or 0;
 * everything else returns 0 (or a descriptor) or a negative errno value.
 */
#ifndef XS_PATH_H
#define XS_PATH_H

#include <stddef.h>
#include <sys/types.h>

/* Names of our own temp files start with this; they are never synced. */
#define PATH_TMP_PREFIX ".xmpp-sync-tmp."

/* Checks the len bytes at p (no terminating NUL needed; an embedded NUL is
 * an error) against the rules above, and also refuses paths of PATH_MAX
 * bytes or more and components longer than NAME_MAX. Every other byte is
 * allowed, as in POSIX file names: names need not be UTF-8 on disk, and
 * may hold control characters or backslashes (the logger escapes control
 * characters; the wire encodes what XML cannot carry). "..." and ".x"
 * are ordinary names. Returns 0 or -EINVAL; logs nothing (the caller
 * knows whom to blame). */
int path_check_relative(const char *p, size_t len);

/* The check at every border: path (NUL-terminated; NULL allowed) passes
 * path_check_relative() and none of its components is one of our temp
 * files. Returns 0 or -EINVAL; logs nothing (the caller knows whom to
 * blame). */
int path_check_synced(const char *path);

/* Writes dir "/" name into buf (just name if dir is empty). Returns 0 or
 * -ENAMETOOLONG if it does not fit in size bytes with its NUL. */
int path_join(char *buf, size_t size, const char *dir, const char *name);

/* Whether the last component of path is one of our temp files. Returns 1
 * or 0. */
int path_is_temp(const char *path);

/* Ignore patterns, as written after "ignore" in the config, use fnmatch(3)
 * syntax (*, ?, [...], \ escapes); '*' and '?' never match '/', there is
 * no "**", and a leading '.' is matched by wildcards like any character.
 *   - a pattern without '/' matches the last component at any depth:
 *     "*.o" ignores "x.o" and "a/b/x.o";
 *   - a pattern with a '/' inside matches the whole relative path:
 *     "logs/x?.txt" ignores "logs/x1.txt", not "old/logs/x1.txt"; so a
 *     leading '/' anchors a name at the root: "/build" ignores the
 *     top-level build only (the '/' is dropped before matching);
 *   - a trailing '/' restricts a pattern to directories: "cache/"
 *     ignores a directory named cache anywhere, not a file of that name.
 * An ignored directory ignores everything below it. */

/* Whether path (relative; is_dir: it is a directory) matches pattern by
 * the rules above, looking at path only, not at its parents. Returns 1 or
 * 0. */
int path_glob_match(const char *pattern, const char *path, int is_dir);

/* Whether path or any directory above it matches one of the n patterns:
 * what the scanner, the watcher and the applier must skip. Returns 1 or
 * 0. */
int path_ignored(const char *const *patterns, size_t n, const char *path,
    int is_dir);

/* Opens rel (checked with path_check_relative) beneath the directory
 * rootfd without following any symlink, in any component, and without
 * leaving the root: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where
 * the kernel has it, else path_open_walk(). flags and mode as for
 * openat(2); O_CLOEXEC and O_NOFOLLOW are added. Returns a descriptor the
 * caller closes, or -EINVAL (bad path), -ELOOP or -ENOTDIR (a symlink on
 * the way), -EXDEV (escape attempt), or openat's -errno. */
int path_open_beneath(int rootfd, const char *rel, int flags, mode_t mode);

/* The portable fallback of path_open_beneath(): opens each directory
 * component with O_NOFOLLOW | O_DIRECTORY, then the last with O_NOFOLLOW.
 * Exported so tests cover it on kernels with openat2. Same contract. */
int path_open_walk(int rootfd, const char *rel, int flags, mode_t mode);

/* Opens the directory that contains rel beneath rootfd (rootfd itself,
 * duplicated, for a top-level name) and sets *name to rel's last
 * component (pointing into rel): the pair to pass to mkdirat, renameat,
 * unlinkat, symlinkat. Returns a descriptor the caller closes, or -errno
 * as for path_open_beneath(). */
int path_open_parent(int rootfd, const char *rel, const char **name);

#endif
