/*
 * Bit operations and bitmaps.
 *
 * Linux: include/linux/bitops.h, include/linux/bitmap.h, lib/find_bit.c,
 * include/linux/log2.h, lib/math/int_sqrt.c. set_bit()/clear_bit() and the
 * test_and_ variants are atomic; the __ variants are not and need the
 * caller's lock, exactly as in the kernel.
 */
#ifndef KMM_BITOPS_H
#define KMM_BITOPS_H

#include <kmm/compiler.h>

#define BITS_PER_LONG	  64
#define BIT(n)		  (1UL << (n))
#define BIT_WORD(nr)	  ((nr) / BITS_PER_LONG)
#define BIT_MASK(nr)	  (1UL << ((nr) % BITS_PER_LONG))
#define BITS_TO_LONGS(nr) KMM_DIV_ROUND_UP(nr, BITS_PER_LONG)
#define GENMASK(h, l)	  (((~0UL) << (l)) & (~0UL >> (BITS_PER_LONG - 1 - (h))))

static inline void set_bit(unsigned long nr, unsigned long *addr)
{
	__atomic_fetch_or(&addr[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_RELAXED);
}
static inline void clear_bit(unsigned long nr, unsigned long *addr)
{
	__atomic_fetch_and(&addr[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_RELAXED);
}
static inline bool test_and_set_bit(unsigned long nr, unsigned long *addr)
{
	return __atomic_fetch_or(&addr[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_SEQ_CST) &
	       BIT_MASK(nr);
}
static inline bool test_and_clear_bit(unsigned long nr, unsigned long *addr)
{
	return __atomic_fetch_and(&addr[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_SEQ_CST) &
	       BIT_MASK(nr);
}
static inline bool test_bit(unsigned long nr, const unsigned long *addr)
{
	return (__atomic_load_n(&addr[BIT_WORD(nr)], __ATOMIC_RELAXED) >> (nr % BITS_PER_LONG)) &
	       1UL;
}
static inline void __set_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] |= BIT_MASK(nr);
}
static inline void __clear_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] &= ~BIT_MASK(nr);
}
static inline void __change_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] ^= BIT_MASK(nr);
}
static inline bool __test_and_change_bit(unsigned long nr, unsigned long *addr)
{
	unsigned long old = addr[BIT_WORD(nr)];
	addr[BIT_WORD(nr)] = old ^ BIT_MASK(nr);
	return old & BIT_MASK(nr);
}
static inline bool __test_and_set_bit(unsigned long nr, unsigned long *addr)
{
	unsigned long old = addr[BIT_WORD(nr)];
	addr[BIT_WORD(nr)] = old | BIT_MASK(nr);
	return old & BIT_MASK(nr);
}

/* Find last set: fls(0) = 0, fls(1) = 1, fls(0x80000000) = 32. */
static inline int fls(unsigned int x)
{
	return x ? 32 - __builtin_clz(x) : 0;
}
static inline int fls64(uint64_t x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}
/* Index of the lowest set bit; undefined for 0. */
static inline unsigned long __ffs(unsigned long x)
{
	return (unsigned long)__builtin_ctzl(x);
}
/* Index of the highest set bit; undefined for 0. */
static inline unsigned long __fls(unsigned long x)
{
	return BITS_PER_LONG - 1 - (unsigned long)__builtin_clzl(x);
}
static inline int ilog2(unsigned long n)
{
	return n ? (int)__fls(n) : -1;
}
static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && (n & (n - 1)) == 0;
}
static inline unsigned long rounddown_pow_of_two(unsigned long n)
{
	return n ? 1UL << __fls(n) : 0;
}
static inline unsigned long roundup_pow_of_two(unsigned long n)
{
	return n <= 1 ? 1 : 1UL << (__fls(n - 1) + 1);
}
static inline int hweight_long(unsigned long w)
{
	return __builtin_popcountl(w);
}

/* Integer square root, rounded down (Linux: int_sqrt()). */
unsigned long int_sqrt(unsigned long x);

unsigned long find_next_bit(const unsigned long *addr, unsigned long size, unsigned long offset);
unsigned long find_next_zero_bit(const unsigned long *addr, unsigned long size,
				 unsigned long offset);
#define find_first_bit(addr, size)	find_next_bit(addr, size, 0)
#define find_first_zero_bit(addr, size) find_next_zero_bit(addr, size, 0)
#define for_each_set_bit(bit, addr, size)                        \
	for ((bit) = find_first_bit(addr, size); (bit) < (size); \
	     (bit) = find_next_bit(addr, size, (bit) + 1))

void bitmap_set(unsigned long *map, unsigned long start, unsigned long len);
void bitmap_clear(unsigned long *map, unsigned long start, unsigned long len);
unsigned long bitmap_weight(const unsigned long *map, unsigned long bits);

#endif /* KMM_BITOPS_H */
