/* chunk_store.c -- chunk lists kept in the store, packed. See chunk.h. */
#include <errno.h>
#include <stdlib.h>

#include "store/store.h"
#include "sync/chunk.h"

int
chunk_record(struct store *st, const uint8_t sha256[32],
    const struct chunk_list *l)
{
	size_t len = chunk_pack_len(l->n);
	uint8_t *buf;
	int r;

	if (l->n == 0)
		return 0;
	if ((buf = malloc(len)) == NULL)
		return -ENOMEM;
	chunk_pack(l, buf);
	r = store_chunks_put(st, sha256, buf, len);
	free(buf);
	return r;
}

int
chunk_load(struct store *st, const uint8_t sha256[32], struct chunk_list *out)
{
	uint8_t *buf;
	size_t len;
	int r;

	chunk_list_clear(out);
	if ((r = store_chunks_get(st, sha256, &buf, &len)) < 0)
		return r;
	r = chunk_unpack(buf, len, out);
	free(buf);
	return r;
}
