/*
 * The swap header: page 0 of every swap area, in Linux's on-disk format, so
 * that `mkswap` files work in kmm and `blkid`/`swaplabel` recognise kmm's.
 *
 * Linux: include/linux/swap.h (union swap_header), mm/swapfile.c
 * read_swap_header(); util-linux disk-utils/mkswap.c for what a fresh
 * header holds. The layout of the first page (little-endian on x86):
 *
 *   0     1024 bytes  boot bits (left for a disk label; zero here)
 *   1024  u32         version (1)
 *   1028  u32         last_page: the area's last usable page; pages = last_page + 1
 *   1032  u32         nr_badpages
 *   1036  16 bytes    uuid
 *   1052  16 bytes    volume label (NUL-padded)
 *   1068  117 u32     padding
 *   1536  u32[637]    the bad pages (page numbers)
 *   4086  10 bytes    the signature "SWAPSPACE2"
 *
 * The signature sits at the end of the *page*, so a header made for 64 KiB
 * pages has it at 65526: kmm looks there too, to say so instead of "not a
 * swap area". A header written on a machine of the other endianness is
 * read with its fields byte-swapped, as Linux does.
 *
 * Where kmm differs: Linux refuses bad pages in a regular file (files have
 * no bad blocks); kmm treats its file as the disk and honours the list, so
 * the SWAP_MAP_BAD path can be exercised with `mkswap`-style headers.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

#define OFF_VERSION   1024
#define OFF_LAST_PAGE 1028
#define OFF_NR_BAD    1032
#define OFF_UUID      1036
#define OFF_LABEL     1052
#define OFF_BADPAGES  1536
#define OFF_SIGNATURE (PAGE_SIZE - SWAP_SIGNATURE_LEN)

static unsigned int get_u32(const unsigned char *p, bool swab)
{
	unsigned int v;
	memcpy(&v, p, 4);
	return swab ? __builtin_bswap32(v) : v;
}

static void put_u32(unsigned char *p, unsigned int v)
{
	memcpy(p, &v, 4);
}

void swap_uuid_format(const unsigned char u[16], char out[37])
{
	kmm_port_snprintf(out, 37,
			  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			  u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
			  u[12], u[13], u[14], u[15]);
}

int swap_header_parse(const unsigned char *buf, uint64_t file_bytes, const char *path,
		      struct swap_header_info *hdr, struct kmm_error *err)
{
	memset(hdr, 0, sizeof(*hdr));
	if (file_bytes < PAGE_SIZE)
		return kmm_error_set(err, -EINVAL,
				     "%s: too small for a swap area (%llu bytes; the header alone "
				     "is one %lu-byte page)",
				     path, (unsigned long long)file_bytes, PAGE_SIZE);
	if (memcmp(buf + OFF_SIGNATURE, SWAP_SIGNATURE, SWAP_SIGNATURE_LEN)) {
		if (!memcmp(buf + OFF_SIGNATURE, "SWAP-SPACE", SWAP_SIGNATURE_LEN))
			return kmm_error_set(err, -EINVAL,
					     "%s: an old version 0 swap area (SWAP-SPACE); kmm, "
					     "like Linux since 2.5, reads version 1: run mkswap",
					     path);
		/* A header for larger pages keeps its signature at the end of its page. */
		for (unsigned long ps = 2 * PAGE_SIZE; ps <= 65536; ps *= 2) {
			if (file_bytes < ps)
				break;
			if (!memcmp(buf + ps - SWAP_SIGNATURE_LEN, SWAP_SIGNATURE,
				    SWAP_SIGNATURE_LEN))
				return kmm_error_set(
				    err, -EINVAL,
				    "%s: swap area made for %lu-byte pages; kmm's pages are "
				    "%lu bytes (mkswap --pagesize %lu)",
				    path, ps, PAGE_SIZE, PAGE_SIZE);
		}
		return kmm_error_set(err, -EINVAL,
				     "%s: not a swap area (no SWAPSPACE2 signature at byte %lu; "
				     "make one with mkswap, or give kmm a size to create it)",
				     path, OFF_SIGNATURE);
	}
	bool swab = false;
	hdr->version = get_u32(buf + OFF_VERSION, false);
	if (hdr->version != 1 && __builtin_bswap32(hdr->version) == 1) {
		swab = true; /* made on a machine of the other endianness */
		hdr->version = 1;
	}
	if (hdr->version != 1)
		return kmm_error_set(err, -EINVAL,
				     "%s: swap header version %u; kmm reads version 1", path,
				     hdr->version);
	hdr->last_page = get_u32(buf + OFF_LAST_PAGE, swab);
	hdr->nr_badpages = get_u32(buf + OFF_NR_BAD, swab);
	memcpy(hdr->uuid, buf + OFF_UUID, 16);
	memcpy(hdr->label, buf + OFF_LABEL, 16);
	hdr->label[16] = '\0';
	if (hdr->last_page == 0)
		return kmm_error_set(err, -EINVAL, "%s: empty swap area (last_page is 0)", path);
	uint64_t file_pages = file_bytes / PAGE_SIZE;
	if ((uint64_t)hdr->last_page + 1 > file_pages)
		return kmm_error_set(err, -EINVAL,
				     "%s: swap area shorter than its header says (header: %llu "
				     "pages, file: %llu pages)",
				     path, (unsigned long long)hdr->last_page + 1,
				     (unsigned long long)file_pages);
	if (hdr->nr_badpages > MAX_SWAP_BADPAGES)
		return kmm_error_set(err, -EINVAL,
				     "%s: swap header lists %u bad pages; at most %lu fit", path,
				     hdr->nr_badpages, (unsigned long)MAX_SWAP_BADPAGES);
	for (unsigned int i = 0; i < hdr->nr_badpages; i++) {
		unsigned int nr = get_u32(buf + OFF_BADPAGES + 4 * i, swab);
		if (nr == 0 || nr > hdr->last_page)
			return kmm_error_set(err, -EINVAL,
					     "%s: bad page %u of the swap header is outside the "
					     "area (1..%u)",
					     path, nr, hdr->last_page);
		hdr->badpages[i] = nr;
	}
	return 0;
}

void swap_header_make(unsigned char *page, unsigned long pages, const unsigned char uuid[16],
		      const char *label)
{
	memset(page, 0, PAGE_SIZE);
	put_u32(page + OFF_VERSION, 1);
	put_u32(page + OFF_LAST_PAGE, (unsigned int)(pages - 1));
	put_u32(page + OFF_NR_BAD, 0);
	memcpy(page + OFF_UUID, uuid, 16);
	if (label)
		memcpy(page + OFF_LABEL, label, kmm_min(strlen(label), (size_t)16));
	memcpy(page + OFF_SIGNATURE, SWAP_SIGNATURE, SWAP_SIGNATURE_LEN);
}
