/*
 * Assertions for broken invariants.
 *
 * Linux: include/asm-generic/bug.h, include/linux/mmdebug.h. A KMM_BUG_ON is
 * a bug in kmm (or in a caller breaking the API contract in debug mode): it
 * prints what broke, where, and a backtrace, then aborts. Bad user input
 * (configs, workloads, traces) never reaches these: parsers return errors.
 *
 * KMM_BUG_ON() is always checked. VM_BUG_ON() and friends are checked when
 * KMM_DEBUG >= 1, like CONFIG_DEBUG_VM, and compiled (type-checked) always.
 */
#ifndef KMM_BUG_H
#define KMM_BUG_H

#include <kmm/compiler.h>

struct kmm_page;

__kmm_noreturn __kmm_cold __kmm_printf(3, 4) void kmm_bug(const char *file, int line,
							  const char *fmt, ...);
__kmm_noreturn __kmm_cold void kmm_bug_page(const char *file, int line, const char *cond,
					    const struct kmm_page *page);
/* Print the state of one page frame (flags decoded, counts, mapping). */
void kmm_dump_page(const struct kmm_page *page, const char *reason);

#define KMM_BUG() kmm_bug(__FILE__, __LINE__, "BUG")
#define KMM_BUG_ON(cond)                                                  \
	do {                                                              \
		if (unlikely(cond))                                       \
			kmm_bug(__FILE__, __LINE__, "BUG_ON(%s)", #cond); \
	} while (0)
#define KMM_BUG_ON_MSG(cond, ...)                                 \
	do {                                                      \
		if (unlikely(cond))                               \
			kmm_bug(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define VM_BUG_ON(cond)                                                      \
	do {                                                                 \
		if (KMM_DEBUG >= 1 && unlikely(cond))                        \
			kmm_bug(__FILE__, __LINE__, "VM_BUG_ON(%s)", #cond); \
	} while (0)
#define VM_BUG_ON_PAGE(cond, page)                                     \
	do {                                                           \
		if (KMM_DEBUG >= 1 && unlikely(cond))                  \
			kmm_bug_page(__FILE__, __LINE__, #cond, page); \
	} while (0)
#define VM_WARN_ON_ONCE(cond)                                                    \
	({                                                                       \
		static bool __warned;                                            \
		bool __c = KMM_DEBUG >= 1 && (cond);                             \
		if (unlikely(__c) && !__warned) {                                \
			__warned = true;                                         \
			kmm_warn(__FILE__, __LINE__, "WARN_ON_ONCE(%s)", #cond); \
		}                                                                \
		__c;                                                             \
	})

__kmm_cold __kmm_printf(3, 4) void kmm_warn(const char *file, int line, const char *fmt, ...);

/* Compile-time check (static_assert with a message). */
#define KMM_BUILD_BUG_ON(cond) _Static_assert(!(cond), #cond)

#endif /* KMM_BUG_H */
