/*
 * Bitmap searches and integer helpers.
 *
 * Linux: lib/find_bit.c, lib/bitmap.c, lib/math/int_sqrt.c.
 */
#include <kmm/bitops.h>

unsigned long find_next_bit(const unsigned long *addr, unsigned long size, unsigned long offset)
{
	if (offset >= size)
		return size;
	unsigned long idx = BIT_WORD(offset);
	unsigned long word = addr[idx] & (~0UL << (offset % BITS_PER_LONG));
	while (!word) {
		if ((idx + 1) * BITS_PER_LONG >= size)
			return size;
		word = addr[++idx];
	}
	unsigned long bit = idx * BITS_PER_LONG + __ffs(word);
	return bit < size ? bit : size;
}

unsigned long find_next_zero_bit(const unsigned long *addr, unsigned long size,
				 unsigned long offset)
{
	if (offset >= size)
		return size;
	unsigned long idx = BIT_WORD(offset);
	unsigned long word = ~addr[idx] & (~0UL << (offset % BITS_PER_LONG));
	while (!word) {
		if ((idx + 1) * BITS_PER_LONG >= size)
			return size;
		word = ~addr[++idx];
	}
	unsigned long bit = idx * BITS_PER_LONG + __ffs(word);
	return bit < size ? bit : size;
}

void bitmap_set(unsigned long *map, unsigned long start, unsigned long len)
{
	unsigned long end = start + len;
	while (start < end && start % BITS_PER_LONG)
		__set_bit(start++, map);
	while (start + BITS_PER_LONG <= end) {
		map[BIT_WORD(start)] = ~0UL;
		start += BITS_PER_LONG;
	}
	while (start < end)
		__set_bit(start++, map);
}

void bitmap_clear(unsigned long *map, unsigned long start, unsigned long len)
{
	unsigned long end = start + len;
	while (start < end && start % BITS_PER_LONG)
		__clear_bit(start++, map);
	while (start + BITS_PER_LONG <= end) {
		map[BIT_WORD(start)] = 0;
		start += BITS_PER_LONG;
	}
	while (start < end)
		__clear_bit(start++, map);
}

unsigned long bitmap_weight(const unsigned long *map, unsigned long bits)
{
	unsigned long w = 0, i;
	for (i = 0; i < bits / BITS_PER_LONG; i++)
		w += (unsigned long)hweight_long(map[i]);
	if (bits % BITS_PER_LONG)
		w += (unsigned long)hweight_long(map[i] &
						 (~0UL >> (BITS_PER_LONG - bits % BITS_PER_LONG)));
	return w;
}

/*
 * Digit-by-digit square root, rounded down: exact for every 64-bit input,
 * which matters because min_free_kbytes = int_sqrt(lowmem_kbytes * 16) must
 * match the kernel's integer result to the unit.
 */
unsigned long int_sqrt(unsigned long x)
{
	if (x <= 1)
		return x;
	unsigned long m = 1UL << (__fls(x) & ~1UL), y = 0;
	while (m) {
		unsigned long b = y + m;
		y >>= 1;
		if (x >= b) {
			x -= b;
			y += m;
		}
		m >>= 2;
	}
	return y;
}
