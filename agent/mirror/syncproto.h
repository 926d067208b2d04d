/* mirror/syncproto.h -- the metadata protocol between master and slave, namespace
 * urn:xmpp-sync:meta:0 (docs/protocol.md, "Metadata"): one operation per
 * <op/> element, as attributes; this file turns them into structs and
 * back, and bounds everything it reads.
 *
 *   <op k='put|mkdir|symlink|meta|rename|delete|rmdir' p='PATH'
 *       [f='FROM'] [s='SIZE'] [h='SHA256 HEX'] [m='MODE OCTAL']
 *       [t='MTIME NS'] [l='LINK TARGET'] [q='SEQ']/>
 */
#ifndef XS_SYNCPROTO_H
#define XS_SYNCPROTO_H

#include <stdint.h>
#include <strophe.h>

#include "store/store.h"

#define SYNC_MAX_OPS 128        /* per <sync/> batch */
#define SYNC_MANIFEST_PAGE 400  /* entries per manifest page */

struct sync_op {
	enum store_op_kind kind;
	const char *path;       /* borrowed from the stanza or the store */
	const char *from;       /* rename source, else NULL */
	const char *target;     /* symlink text, else NULL */
	uint64_t size;
	int has_sha256;
	uint8_t sha256[32];
	uint32_t mode;
	int64_t mtime_ns;
	int64_t seq;
};

/* Returns the wire name of an operation kind ("put", ...). */
const char *sync_kind_name(enum store_op_kind k);

/* Adds <op/> for o under parent. Returns 0 or -ENOMEM. */
int sync_op_build(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
    const struct sync_op *o);

/* Reads an <op/> element into o (strings borrowed from el). Checks every
 * path with path_check_relative and every number's range. Returns 0 or
 * -EINVAL with *why set to a static description. */
int sync_op_parse(xmpp_stanza_t *el, struct sync_op *o, const char **why);

/* Adds a manifest entry <e p= y='f|d|l' s= h= m= t= l=/> for f under
 * parent. Returns 0 or -ENOMEM. */
int sync_entry_build(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
    const struct store_file *f);

/* Reads a manifest entry; strings in *out are copied (free with
 * plan_entries_clear()). Returns 0 or -EINVAL/-ENOMEM. */
struct plan_entry;
int sync_entry_parse(xmpp_stanza_t *el, struct plan_entry *out);

#endif
