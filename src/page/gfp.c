/*
 * GFP masks: the zone they allow, and their text form.
 *
 * Linux: include/linux/gfp.h (gfp_zone and GFP_ZONE_TABLE),
 * include/trace/events/mmflags.h (the names and their order, which ftrace
 * and %pGg print: composite masks first, each name consumed once matched).
 */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * The zone modifiers map to the highest usable zone: none -> Normal,
 * __GFP_DMA -> DMA, __GFP_DMA32 -> DMA32 (Normal where the arch has no
 * DMA32), __GFP_HIGHMEM -> HighMem (Normal on 64-bit), and __GFP_MOVABLE
 * combined with __GFP_HIGHMEM -> Movable. Other combinations are bugs.
 */
void gfp_zone_table_init(struct kmm_machine *m)
{
	unsigned char *t = m->pa->gfp_zone_table;
	for (unsigned int bits = 0; bits <= GFP_ZONEMASK; bits++)
		t[bits] = 0xff;
	t[0] = t[___GFP_MOVABLE] = ZONE_NORMAL;
	t[___GFP_DMA] = t[___GFP_MOVABLE | ___GFP_DMA] = ZONE_DMA;
	t[___GFP_DMA32] = t[___GFP_MOVABLE | ___GFP_DMA32] =
	    m->zone_in_arch[ZONE_DMA32] ? ZONE_DMA32 : ZONE_NORMAL;
	t[___GFP_HIGHMEM] = m->zone_in_arch[ZONE_HIGHMEM] ? ZONE_HIGHMEM : ZONE_NORMAL;
	t[___GFP_MOVABLE | ___GFP_HIGHMEM] = ZONE_MOVABLE;
}

void gfp_zone_bug(gfp_t flags)
{
	KMM_BUG_ON_MSG(1, "gfp_zone: conflicting zone modifiers %#x", flags & GFP_ZONEMASK);
	__builtin_unreachable();
}

const struct kmm_gfp_name kmm_gfp_names[] = {
    {GFP_TRANSHUGE, "GFP_TRANSHUGE"},
    {GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"},
    {GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"},
    {GFP_HIGHUSER, "GFP_HIGHUSER"},
    {GFP_USER, "GFP_USER"},
    {GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"},
    {GFP_KERNEL, "GFP_KERNEL"},
    {GFP_NOFS, "GFP_NOFS"},
    {GFP_ATOMIC, "GFP_ATOMIC"},
    {GFP_NOIO, "GFP_NOIO"},
    {GFP_NOWAIT, "GFP_NOWAIT"},
    {GFP_DMA, "GFP_DMA"},
    {__GFP_HIGHMEM, "__GFP_HIGHMEM"},
    {GFP_DMA32, "GFP_DMA32"},
    {__GFP_HIGH, "__GFP_HIGH"},
    {__GFP_ATOMIC, "__GFP_ATOMIC"},
    {__GFP_IO, "__GFP_IO"},
    {__GFP_FS, "__GFP_FS"},
    {__GFP_NOWARN, "__GFP_NOWARN"},
    {__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"},
    {__GFP_NOFAIL, "__GFP_NOFAIL"},
    {__GFP_NORETRY, "__GFP_NORETRY"},
    {__GFP_COMP, "__GFP_COMP"},
    {__GFP_ZERO, "__GFP_ZERO"},
    {__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"},
    {__GFP_MEMALLOC, "__GFP_MEMALLOC"},
    {__GFP_HARDWALL, "__GFP_HARDWALL"},
    {__GFP_THISNODE, "__GFP_THISNODE"},
    {__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"},
    {__GFP_MOVABLE, "__GFP_MOVABLE"},
    {__GFP_ACCOUNT, "__GFP_ACCOUNT"},
    {__GFP_WRITE, "__GFP_WRITE"},
    {__GFP_RECLAIM, "__GFP_RECLAIM"},
    {__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"},
    {__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"},
    {__GFP_ZEROTAGS, "__GFP_ZEROTAGS"},
};
const size_t kmm_nr_gfp_names = KMM_ARRAY_SIZE(kmm_gfp_names);

char *kmm_gfp_decode(gfp_t gfp, char *buf, size_t len)
{
	size_t n = 0;
	if (!len)
		return buf;
	buf[0] = '\0';
	if (!gfp) {
		kmm_port_snprintf(buf, len, "none");
		return buf;
	}
	for (size_t i = 0; i < kmm_nr_gfp_names && gfp; i++) {
		if ((gfp & kmm_gfp_names[i].mask) != kmm_gfp_names[i].mask)
			continue;
		gfp &= ~kmm_gfp_names[i].mask;
		n += (size_t)kmm_port_snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "|" : "",
					       kmm_gfp_names[i].name);
	}
	if (gfp)
		kmm_port_snprintf(buf + n, n < len ? len - n : 0, "%s%#x", n ? "|" : "", gfp);
	return buf;
}

int kmm_gfp_parse(const char *s, gfp_t *out)
{
	gfp_t gfp = 0;
	while (*s) {
		const char *end = strchr(s, '|');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		bool found = false;
		for (size_t i = 0; i < kmm_nr_gfp_names; i++) {
			if (strlen(kmm_gfp_names[i].name) == len &&
			    !strncmp(s, kmm_gfp_names[i].name, len)) {
				gfp |= kmm_gfp_names[i].mask;
				found = true;
				break;
			}
		}
		if (!found) {
			char num[32], *e;
			if (len == 0 || len >= sizeof(num))
				return -EINVAL;
			memcpy(num, s, len);
			num[len] = '\0';
			unsigned long v = strtoul(num, &e, 0);
			if (*e || v > __GFP_BITS_MASK)
				return -EINVAL;
			gfp |= (gfp_t)v;
		}
		s += len;
		if (*s == '|')
			s++;
	}
	*out = gfp;
	return 0;
}

const char *const migratetype_names[MIGRATE_TYPES] = {
    "Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate",
};
