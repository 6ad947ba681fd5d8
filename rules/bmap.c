/*
 * bmap.c — the matcher's containers: an open-addressing hash map from byte
 * strings to uint32 values (struct bmap), and growable arrays (VEC).
 *
 * The map keeps a control byte per slot (0 empty, else 0x80 | 7 bits of the
 * hash) apart from the slots, so that a lookup that misses — the common case
 * on the match path — reads only that small array. Lookups are inline in
 * matcher_internal.h; inserting and growing live here. Keys are copied into
 * the map's own storage; the load factor stays at or below 3/4.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_internal.h"

void bmap_free(struct bmap *m)
{
	free(m->ctrl);
	free(m->slots);
	free(m->keys);
	memset(m, 0, sizeof(*m));
}

static int bmap_grow(struct bmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 8;
	struct bmap_slot *s = malloc(cap * sizeof(*s));
	uint8_t *c = calloc(cap, 1);
	if (!s || !c) {
		free(s);
		free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->ctrl[i])
			continue;
		size_t j = m->slots[i].hash & (cap - 1);
		while (c[j])
			j = (j + 1) & (cap - 1);
		s[j] = m->slots[i];
		c[j] = m->ctrl[i];
	}
	free(m->slots);
	free(m->ctrl);
	m->slots = s;
	m->ctrl = c;
	m->cap = cap;
	return 0;
}

struct bmap_slot *bmap_upsert(struct bmap *m, const void *key, size_t klen, uint32_t dflt,
			      bool *ret_new)
{
	uint64_t h = hash_bytes(key, klen, 0);
	struct bmap_slot *s = bmap_find(m, key, klen, h);

	if (ret_new)
		*ret_new = false;
	if (s)
		return s;
	if ((m->n + 1) * 4 > m->cap * 3 && bmap_grow(m) < 0)
		return NULL;
	if (!m->keys || m->keys_len + klen > m->keys_cap) {
		size_t cap = m->keys_cap ? m->keys_cap : 64;
		while (cap < m->keys_len + klen)
			cap *= 2;
		char *k = realloc(m->keys, cap);
		if (!k)
			return NULL;
		m->keys = k;
		m->keys_cap = cap;
	}
	size_t j = h & (m->cap - 1);
	while (m->ctrl[j])
		j = (j + 1) & (m->cap - 1);
	m->ctrl[j] = bmap_tag(h);
	s = &m->slots[j];
	s->hash = h;
	s->koff = (uint32_t)m->keys_len;
	s->klen = (uint32_t)klen;
	s->value = dflt;
	if (klen)
		memcpy(m->keys + m->keys_len, key, klen);
	m->keys_len += klen;
	m->n++;
	if (ret_new)
		*ret_new = true;
	return s;
}

int vec_grow_(void **v, size_t *cap, size_t need, size_t elem)
{
	size_t nc = *cap ? *cap : 8;
	while (nc < need)
		nc *= 2;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}
