/* hashfile.h -- SHA-256 of a file that may be changing while we read it.
 *
 * The scanner, the planner, the hashing thread and the applier all read
 * files that someone may be writing at that moment. A checksum is worth
 * recording only if it describes a state the file really had, so these
 * functions fstat the open file before and after reading it and give up
 * with -EAGAIN when its size, mtime or ctime moved in between, or when
 * the bytes read are not its size. The caller decides what "try again"
 * means (skip it until the next event or scan, or hash it again).
 *
 * Files are opened with path_open_beneath(): no symlink is followed in any
 * component and nothing outside the directory is reached. Reading uses
 * pread from offset 0 in constant memory (one 128 KiB buffer per call).
 * Nothing is logged: the caller knows what it was doing. Thread-safe;
 * libgcrypt must be initialised first.
 */
#ifndef XS_HASHFILE_H
#define XS_HASHFILE_H

#include <stdint.h>
#include <sys/stat.h>

struct hashfile {
	int64_t size;		/* bytes read, which is the file's size */
	int64_t mtime_ns;	/* its mtime while it was read */
	uint8_t sha256[32];
};

/* Hashes the regular file open at fd from its first byte; fd's offset does
 * not move. If expect is not NULL (a stat the caller made earlier, e.g. the
 * one its record will describe) the open file must still be that one: same
 * device, inode, size, mtime and ctime. Returns 0 with *out filled,
 * -EAGAIN if the file is not the one expected or changed while it was
 * read (*out is then meaningless), -EINVAL if it is not a regular file,
 * -ENOMEM, or fstat's or pread's -errno. */
int hashfile_fd(int fd, const struct stat *expect, struct hashfile *out);

struct chunk_list;

/* hashfile_fd(), and in the same pass, if chunks is not NULL and the file
 * is large enough to be cut (chunk_wanted()), its content-defined chunks
 * into *chunks (cleared first; empty for a smaller file and on error;
 * free with chunk_list_clear()). Returns as hashfile_fd(), or -EFBIG for
 * a file of more chunks than CHUNK_LIST_MAX. */
int hashfile_fd_chunks(int fd, const struct stat *expect,
    struct hashfile *out, struct chunk_list *chunks);

/* Opens path beneath the directory dirfd with path_open_beneath() and
 * hashes it with hashfile_fd(). path must already be checked (see path.h:
 * the watcher, the scanner and the protocol parser check it where it
 * enters). Returns as hashfile_fd(), or the opener's -errno: -ENOENT when
 * it is gone, -ELOOP or -ENOTDIR when a symlink or file is in the way. */
int hashfile_at(int dirfd, const char *path, const struct stat *expect,
    struct hashfile *out);

/* hashfile_at() with chunks as hashfile_fd_chunks(). Returns as
 * hashfile_fd_chunks(). */
int hashfile_at_chunks(int dirfd, const char *path,
    const struct stat *expect, struct hashfile *out,
    struct chunk_list *chunks);

/* Reads the whole regular file path beneath dirfd (as hashfile_at()
 * opens it) into buf, which holds cap bytes, and hashes what it read.
 * The file must not change while it is read. Returns 0 with out->size
 * bytes in buf and out filled, -EFBIG if it is larger than cap, -EAGAIN
 * if it changed, -EINVAL if it is not a regular file, or the opener's or
 * read's -errno. */
int hashfile_read_at(int dirfd, const char *path, void *buf, size_t cap,
    struct hashfile *out);

#endif
