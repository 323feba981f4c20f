/*
 * Data integrity of address spaces against a shadow copy (shadow.h).
 *
 * Random sequences of mmap (anonymous private and shared, file private and
 * shared, hints and MAP_FIXED), munmap, mprotect, mremap, madvise
 * (DONTNEED, FREE, WILLNEED), mlock/munlock, brk, reads, writes, memsets,
 * touches, fork, exec, exit and forbidden accesses run over several tasks
 * on several simulated CPUs (deterministic mode: one host thread). Every
 * read is compared byte for byte with the shadow; after every step the
 * invariant checker runs; now and then every task syncs its shared file
 * mappings and the host files must hold exactly the shadow's bytes. At the
 * end every task exits: the files must match again, and every page and
 * page table must be back in the buddy allocator.
 */
#include "vm_util.h"
#include "shadow.h"
#include <fcntl.h>
#include <sys/stat.h>

#define MAX_TASKS 6
#define NFILES	  2
#define WINDOW	  (4UL << 20) /* MAP_FIXED and range operations aim below mmap_base */

struct world {
	struct kmm_machine *m;
	struct kmm_rng rng;
	struct kmm_task *t[MAX_TASKS];
	struct stask s[MAX_TASKS];
	int nt;
	struct kmm_file *f[NFILES];
	struct sobj *fobj[NFILES];
	char path[NFILES][512];
	char dir[256];
	unsigned long step;
	char last[8][160]; /* the last operations, for failure reports */
};

static void note(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct world *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->last[w->step % 8], sizeof(w->last[0]), fmt, ap);
	va_end(ap);
	if (getenv("KMM_TEST_VERBOSE"))
		fprintf(stderr, "%lu: %s\n", w->step, w->last[w->step % 8]);
}

static void dump_notes(struct world *w)
{
	fprintf(stderr, "last operations (step %lu):\n", w->step);
	for (unsigned long i = w->step >= 7 ? w->step - 7 : 0; i <= w->step; i++)
		fprintf(stderr, "  %lu: %s\n", i, w->last[i % 8]);
}

static unsigned long rnd(struct world *w, unsigned long n)
{
	return (unsigned long)kmm_rng_below(&w->rng, n);
}

static unsigned long mmap_base(struct world *w, int ti)
{
	return w->t[ti]->mm->mmap_base;
}

/* The stack and heap every new program has (setup_new_exec_mm), in the shadow. */
static void shadow_exec(struct world *w, int ti)
{
	struct stask *s = &w->s[ti];
	st_clear(s);
	struct kmm_mm *mm = w->t[ti]->mm;
	for (struct kmm_vma *vma = mm->mmap; vma; vma = vma->vm_next)
		for (unsigned long a = vma->vm_start; a < vma->vm_end; a += SPAGE)
			st_insert(
			    s, &(struct spage){.addr = a, .prot = KMM_PROT_READ | KMM_PROT_WRITE});
	s->start_brk = s->brk = mm->brk;
}

/* --- Reading and checking ------------------------------------------------------------- */

static bool readable(const struct spage *p)
{
	return p->prot & (KMM_PROT_READ | KMM_PROT_WRITE | KMM_PROT_EXEC);
}

/* Check one page's bytes in the machine against the shadow; resolve MADV_FREE. */
static int check_page(struct world *w, int ti, struct spage *p)
{
	static uint8_t buf[SPAGE];
	int r = kmm_read(w->t[ti], p->addr, buf, SPAGE);
	if (r) {
		fprintf(stderr, "read of %#lx in task %d failed: %d\n", p->addr, ti, r);
		return -1;
	}
	const uint8_t *want = spage_data(p);
	if (p->lazy) {
		static const uint8_t zero[SPAGE];
		if (want && !memcmp(buf, want, SPAGE)) {
			p->lazy = false;
			return 0;
		}
		if (!memcmp(buf, zero, SPAGE)) {
			free(p->priv);
			p->priv = NULL;
			p->lazy = false;
			return 0;
		}
		fprintf(stderr, "MADV_FREE page %#lx holds neither its data nor zeros\n", p->addr);
		return -1;
	}
	for (size_t i = 0; i < SPAGE; i++) {
		uint8_t e = want ? want[i] : 0;
		if (buf[i] != e) {
			fprintf(stderr, "task %d page %#lx byte %zu: got %#x, want %#x (%s%s)\n",
				ti, p->addr, i, buf[i], e,
				p->obj ? (p->shared ? "shared" : "file") : "anon",
				p->priv ? " private" : "");
			pte_t *pte = pte_lookup(w->t[ti]->mm, p->addr);
			if (pte && pte_present(*pte) && !pte_special(*pte)) {
				struct kmm_page *pg = pfn_to_page(w->m, pte_pfn(*pte));
				fprintf(stderr, "  pte %#lx: %s index %lu mapcount %d ref %d\n",
					(unsigned long)*pte, PageAnon(pg) ? "anon" : "file",
					pg->index, atomic_read(&pg->_mapcount) + 1,
					page_ref_count(pg));
			}
			if (p->obj)
				fprintf(stderr, "  file shadow %#x\n",
					p->obj->data[p->opage * SPAGE + i]);
			return -1;
		}
	}
	return 0;
}

static int check_task(struct world *w, int ti)
{
	struct stask *s = &w->s[ti];
	for (size_t i = 0; i < s->n; i++)
		if (readable(&s->pages[i]) && check_page(w, ti, &s->pages[i]))
			return -1;
	return 0;
}

/* Compare a host file with its shadow object. */
static int check_file(struct world *w, int fi)
{
	struct sobj *o = w->fobj[fi];
	int fd = open(w->path[fi], O_RDONLY);
	if (fd < 0)
		return -1;
	uint8_t *buf = malloc(o->size + 1);
	ssize_t n = pread(fd, buf, o->size + 1, 0);
	close(fd);
	int ret = 0;
	if (n != (ssize_t)o->size) {
		fprintf(stderr, "file %d: size %zd, want %zu\n", fi, n, o->size);
		ret = -1;
	} else {
		for (size_t i = 0; i < o->size; i++)
			if (buf[i] != o->data[i]) {
				fprintf(stderr, "file %d byte %zu: host has %#x, want %#x\n", fi, i,
					buf[i], o->data[i]);
				ret = -1;
				break;
			}
	}
	free(buf);
	return ret;
}

/* A random page of task @ti with @want permission (0: any), or NULL. */
static struct spage *pick_page(struct world *w, int ti, int want)
{
	struct stask *s = &w->s[ti];
	if (!s->n)
		return NULL;
	for (int tries = 0; tries < 16; tries++) {
		struct spage *p = &s->pages[rnd(w, s->n)];
		if (want == KMM_PROT_WRITE ? (p->prot & KMM_PROT_WRITE) != 0
		    : want		   ? readable(p)
					   : true)
			return p;
	}
	return NULL;
}

/* A random page-aligned address for a range operation: near existing pages or in the window. */
static unsigned long pick_addr(struct world *w, int ti)
{
	struct spage *p = pick_page(w, ti, 0);
	if (p && rnd(w, 4))
		return p->addr - rnd(w, 4) * SPAGE;
	return mmap_base(w, ti) - WINDOW + rnd(w, WINDOW / SPAGE) * SPAGE;
}

/* --- Operations ---------------------------------------------------------------------------- */

static int random_prot(struct world *w)
{
	switch (rnd(w, 10)) {
	case 0:
		return KMM_PROT_READ;
	case 1:
		return KMM_PROT_NONE;
	case 2:
		return KMM_PROT_READ | KMM_PROT_WRITE | KMM_PROT_EXEC;
	default:
		return KMM_PROT_READ | KMM_PROT_WRITE;
	}
}

static int op_mmap(struct world *w, int ti)
{
	struct kmm_task *t = w->t[ti];
	struct stask *s = &w->s[ti];
	unsigned long npages = 1 + rnd(w, 24), addr = 0, off = 0;
	int kind = (int)rnd(w, 10); /* 0-4 anon, 5 shmem, 6-7 file shared, 8-9 file private */
	int prot = random_prot(w);
	int flags = 0, fi = -1;
	struct kmm_file *file = NULL;
	if (kind <= 4) {
		flags = KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS;
	} else if (kind == 5) {
		flags = KMM_MAP_SHARED | KMM_MAP_ANONYMOUS;
	} else {
		fi = (int)rnd(w, NFILES);
		file = w->f[fi];
		flags = kind <= 7 ? KMM_MAP_SHARED : KMM_MAP_PRIVATE;
		unsigned long fpages = w->fobj[fi]->npages;
		off = rnd(w, fpages);
		if (npages > fpages - off)
			npages = fpages - off;
	}
	if (rnd(w, 3) == 0) {
		flags |= KMM_MAP_FIXED;
		addr = mmap_base(w, ti) - WINDOW + rnd(w, WINDOW / SPAGE - npages) * SPAGE;
	}
	if (rnd(w, 8) == 0)
		flags |= KMM_MAP_POPULATE;
	note(w, "task %d mmap %#lx %lu pages prot %d flags %#x file %d off %lu", ti, addr, npages,
	     prot, flags, fi, off);
	long r = kmm_mmap(t, addr, npages * SPAGE, prot, flags, file, off * SPAGE);
	if (r < 0 || (r & (SPAGE - 1)) || ((flags & KMM_MAP_FIXED) && (unsigned long)r != addr)) {
		fprintf(stderr, "mmap returned %ld\n", r);
		return -1;
	}
	unsigned long a = (unsigned long)r;
	if (getenv("KMM_TEST_VERBOSE"))
		fprintf(stderr, "   -> %#lx (pid %d)\n", a, kmm_task_pid(t));
	if (!(flags & KMM_MAP_FIXED) && st_lower(s, a) < s->n &&
	    s->pages[st_lower(s, a)].addr < a + npages * SPAGE) {
		fprintf(stderr, "mmap placed %#lx over an existing mapping\n", a);
		return -1;
	}
	st_remove(s, a, a + npages * SPAGE);
	struct sobj *shm = kind == 5 ? sobj_new(npages, npages * SPAGE, -1) : NULL;
	for (unsigned long i = 0; i < npages; i++) {
		struct spage p = {.addr = a + i * SPAGE, .prot = prot};
		if (shm) {
			p.obj = shm;
			p.opage = i;
			p.shared = true;
			sobj_get(shm);
		} else if (fi >= 0) {
			p.obj = w->fobj[fi];
			p.opage = off + i;
			p.shared = kind <= 7;
			sobj_get(p.obj);
		}
		struct spage *q = st_insert(s, &p);
		/* Populating a private writable mapping breaks COW now (write faults). */
		if ((flags & KMM_MAP_POPULATE) && fi >= 0 && !q->shared && (prot & KMM_PROT_WRITE))
			spage_wdata(q);
	}
	sobj_put(shm);
	return 0;
}

static int op_munmap(struct world *w, int ti)
{
	unsigned long a = pick_addr(w, ti), len = (1 + rnd(w, 32)) * SPAGE;
	note(w, "task %d munmap %#lx %lu pages", ti, a, len / SPAGE);
	int r = kmm_munmap(w->t[ti], a, len);
	int want = a + len > KMM_TASK_SIZE ? -EINVAL : 0;
	if (r != want) {
		fprintf(stderr, "munmap: %d, want %d\n", r, want);
		return -1;
	}
	if (!r)
		st_remove(&w->s[ti], a, a + len);
	return 0;
}

/*
 * Apply @fn to the pages of [a, a + len) from @a while they are mapped
 * (mprotect/mlock semantics): returns the errno the kernel must give.
 */
static int walk_contiguous(struct world *w, int ti, unsigned long a, unsigned long len,
			   void (*fn)(struct spage *, int), int arg)
{
	for (unsigned long x = a; x < a + len; x += SPAGE) {
		struct spage *p = st_find(&w->s[ti], x);
		if (!p)
			return -ENOMEM;
		fn(p, arg);
	}
	return 0;
}

static void set_prot(struct spage *p, int prot)
{
	p->prot = prot;
}

static void no_change(struct spage *p, int arg)
{
	(void)p;
	(void)arg;
}

/* Populating after mlock: private writable file pages get their private copy now. */
static void populate_page(struct spage *p, int arg)
{
	(void)arg;
	if (p->obj && !p->shared && (p->prot & KMM_PROT_WRITE))
		spage_wdata(p);
}

static int op_mprotect(struct world *w, int ti)
{
	unsigned long a = pick_addr(w, ti), len = (1 + rnd(w, 16)) * SPAGE;
	int prot = random_prot(w);
	note(w, "task %d mprotect %#lx %lu pages %d", ti, a, len / SPAGE, prot);
	int r = kmm_mprotect(w->t[ti], a, len, prot);
	int want = walk_contiguous(w, ti, a, len, set_prot, prot);
	if (r != want) {
		fprintf(stderr, "mprotect returned %d, want %d\n", r, want);
		return -1;
	}
	return 0;
}

/* Bytes to write: random, with the address mixed in so misplaced data shows. */
static void fill(struct world *w, uint8_t *buf, size_t n, unsigned long addr)
{
	uint64_t x = kmm_rng_next(&w->rng) ^ addr;
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		buf[i] = (uint8_t)(x >> (8 * (i % 8)));
	}
}

static int resolve_range(struct world *w, int ti, unsigned long a, unsigned long end)
{
	for (unsigned long x = a & ~(SPAGE - 1); x < end; x += SPAGE) {
		struct spage *p = st_find(&w->s[ti], x);
		if (p && p->lazy && check_page(w, ti, p))
			return -1;
	}
	return 0;
}

/* A writable run starting at a random writable page: [a, a + n). */
static bool pick_writable_run(struct world *w, int ti, unsigned long *a, size_t *n)
{
	struct spage *p = pick_page(w, ti, KMM_PROT_WRITE);
	if (!p)
		return false;
	*a = p->addr + rnd(w, SPAGE);
	*n = 1 + rnd(w, rnd(w, 4) ? 256 : 2 * SPAGE);
	struct spage *q = st_find(&w->s[ti], (*a + *n - 1) & ~(SPAGE - 1));
	if (!q || !(q->prot & KMM_PROT_WRITE) || ((*a + *n - 1) & ~(SPAGE - 1)) - p->addr > SPAGE)
		*n = p->addr + SPAGE - *a; /* stay in the first page */
	if (((*a + *n - 1) & ~(SPAGE - 1)) != p->addr) {
		/* Two pages: the second must be writable and directly after. */
		if (!q || q->addr != p->addr + SPAGE)
			*n = p->addr + SPAGE - *a;
	}
	return true;
}

static void shadow_write(struct world *w, int ti, unsigned long a, const uint8_t *buf, size_t n)
{
	while (n) {
		struct spage *p = st_find(&w->s[ti], a & ~(SPAGE - 1));
		size_t chunk = SPAGE - (a & (SPAGE - 1));
		if (chunk > n)
			chunk = n;
		memcpy(spage_wdata(p) + (a & (SPAGE - 1)), buf, chunk);
		p->lazy = false;
		a += chunk;
		buf += chunk;
		n -= chunk;
	}
}

static int op_write(struct world *w, int ti, bool memset_op)
{
	unsigned long a;
	size_t n;
	static uint8_t buf[2 * SPAGE];
	if (!pick_writable_run(w, ti, &a, &n))
		return 0;
	if (resolve_range(w, ti, a, a + n))
		return -1;
	int r;
	if (memset_op) {
		int c = (int)rnd(w, 256);
		memset(buf, c, n);
		note(w, "task %d memset %#lx %zu %#x", ti, a, n, c);
		r = kmm_memset(w->t[ti], a, c, n);
	} else {
		fill(w, buf, n, a);
		note(w, "task %d write %#lx %zu", ti, a, n);
		r = kmm_write(w->t[ti], a, buf, n);
	}
	if (r) {
		fprintf(stderr, "write: %d\n", r);
		return -1;
	}
	shadow_write(w, ti, a, buf, n);
	return 0;
}

static int op_read(struct world *w, int ti)
{
	struct spage *p = pick_page(w, ti, KMM_PROT_READ);
	if (!p)
		return 0;
	note(w, "task %d read page %#lx", ti, p->addr);
	return check_page(w, ti, p);
}

static int op_touch(struct world *w, int ti)
{
	struct spage *p = pick_page(w, ti, rnd(w, 2) ? KMM_PROT_WRITE : KMM_PROT_READ);
	if (!p)
		return 0;
	bool write = p->prot & KMM_PROT_WRITE && rnd(w, 2);
	note(w, "task %d touch %#lx %s", ti, p->addr, write ? "write" : "read");
	if (resolve_range(w, ti, p->addr, p->addr + 1))
		return -1;
	if (kmm_touch(w->t[ti], p->addr, 1, write ? KMM_TOUCH_WRITE : KMM_TOUCH_READ))
		return -1;
	if (write)
		spage_wdata(p); /* a write fault makes the page private, unchanged */
	return 0;
}

static int op_fork(struct world *w, int ti)
{
	if (w->nt == MAX_TASKS)
		return 0;
	struct kmm_error err = {0};
	int cpu = (int)rnd(w, (unsigned long)w->m->nr_cpus);
	note(w, "task %d fork on cpu %d", ti, cpu);
	struct kmm_task *c = kmm_task_fork(w->t[ti], cpu, &err);
	if (!c) {
		fprintf(stderr, "fork: %s\n", err.msg);
		return -1;
	}
	int ci = w->nt++;
	if (getenv("KMM_TEST_VERBOSE"))
		fprintf(stderr, "   pid %d forks pid %d\n", kmm_task_pid(w->t[ti]),
			kmm_task_pid(c));
	w->t[ci] = c;
	memset(&w->s[ci], 0, sizeof(w->s[ci]));
	st_copy(&w->s[ci], &w->s[ti]);
	for (size_t i = 0; i < w->s[ci].n; i++)
		w->s[ci].pages[i].lazy = false, w->s[ti].pages[i].lazy = false;
	return 0;
}

static void remove_task(struct world *w, int ti)
{
	kmm_task_reap(w->t[ti]);
	st_free(&w->s[ti]);
	w->t[ti] = w->t[w->nt - 1];
	w->s[ti] = w->s[w->nt - 1];
	memset(&w->s[w->nt - 1], 0, sizeof(struct stask));
	w->nt--;
}

static int op_exit(struct world *w, int ti)
{
	if (w->nt == 1)
		return 0;
	note(w, "task %d exit", ti);
	if (rnd(w, 2) && check_task(w, ti))
		return -1;
	remove_task(w, ti);
	return 0;
}

static int op_exec(struct world *w, int ti)
{
	note(w, "task %d exec", ti);
	if (kmm_task_exec(w->t[ti], "exec"))
		return -1;
	shadow_exec(w, ti);
	return 0;
}

static int op_bad_access(struct world *w, int ti)
{
	if (w->nt == 1)
		return 0;
	struct kmm_task *t = w->t[ti];
	unsigned long a;
	bool write;
	struct spage *p = pick_page(w, ti, 0);
	if (p && !(p->prot & KMM_PROT_WRITE)) {
		a = p->addr + 8; /* a write to a read-only (or PROT_NONE) page */
		write = true;
	} else {
		a = mmap_base(w, ti) - WINDOW + rnd(w, WINDOW / SPAGE) * SPAGE;
		if (st_find(&w->s[ti], a))
			return 0;
		write = rnd(w, 2);
	}
	note(w, "task %d bad %s at %#lx", ti, write ? "write" : "read", a);
	uint64_t v = 1;
	int r = write ? kmm_write(t, a, &v, sizeof(v)) : kmm_read(t, a, &v, sizeof(v));
	const struct kmm_task_signal *sig = kmm_task_signal(t);
	if (r != -EFAULT || kmm_task_state(t) != KMM_TASK_DEAD || sig->signo != KMM_SIGSEGV ||
	    sig->addr != a) {
		fprintf(stderr, "bad access: ret %d state %d signo %d addr %#lx\n", r,
			kmm_task_state(t), sig->signo, sig->addr);
		return -1;
	}
	if (kmm_read(t, a, &v, sizeof(v)) != -ESRCH)
		return -1;
	remove_task(w, ti);
	return 0;
}

static int op_mremap(struct world *w, int ti)
{
	struct kmm_task *t = w->t[ti];
	struct stask *s = &w->s[ti];
	struct spage *p = pick_page(w, ti, 0);
	if (!p || p->obj)
		return 0;
	struct kmm_vma *vma = find_vma(t->mm, p->addr);
	if (!vma || vma->vm_file || (vma->vm_flags & VM_SHARED) || (vma->vm_flags & VM_GROWSDOWN))
		return 0;
	unsigned long a = p->addr;
	unsigned long old_len = (1 + rnd(w, (vma->vm_end - a) / SPAGE)) * SPAGE;
	unsigned long new_len = (1 + rnd(w, 2 * old_len / SPAGE + 4)) * SPAGE;
	int flags = rnd(w, 5) ? KMM_MREMAP_MAYMOVE : 0;
	int prot = p->prot;
	bool locked_before = vma->vm_flags & VM_LOCKED;
	(void)locked_before;
	bool tail_free = true;
	for (unsigned long x = a + old_len; x < a + new_len; x += SPAGE)
		tail_free &= !st_find(s, x);
	bool in_place_ok = a + old_len == vma->vm_end && tail_free;
	note(w, "task %d mremap %#lx %lu -> %lu pages flags %d", ti, a, old_len / SPAGE,
	     new_len / SPAGE, flags);
	long r = kmm_mremap(t, a, old_len, new_len, flags, 0);
	if (new_len <= old_len) {
		if (r != (long)a)
			goto bad;
		st_remove(s, a + new_len, a + old_len);
		return 0;
	}
	if (r < 0) {
		if (r != -ENOMEM || flags)
			goto bad;
		return 0;
	}
	unsigned long na = (unsigned long)r;
	if (na == a) {
		if (!in_place_ok && !tail_free)
			goto bad;
	} else {
		if (!flags)
			goto bad;
		for (unsigned long x = na; x < na + new_len; x += SPAGE)
			if (st_find(s, x)) {
				fprintf(stderr, "mremap moved onto a mapped page %#lx\n", x);
				goto bad;
			}
		/* Move the shadow pages. */
		for (unsigned long x = 0; x < old_len; x += SPAGE) {
			struct spage *q = st_find(s, a + x);
			if (!q)
				continue;
			struct spage moved = *q;
			moved.addr = na + x;
			q->priv = NULL; /* ownership moves */
			q->obj = NULL;
			st_remove(s, a + x, a + x + SPAGE);
			st_insert(s, &moved);
		}
	}
	for (unsigned long x = na + old_len; x < na + new_len; x += SPAGE)
		st_insert(s, &(struct spage){.addr = x, .prot = prot});
	return 0;
bad:
	fprintf(stderr, "mremap returned %ld (in place possible: %d)\n", r, in_place_ok);
	return -1;
}

static bool madvise_refused(const struct kmm_vma *vma, int advice)
{
	if (advice == KMM_MADV_DONTNEED)
		return vma->vm_flags & VM_LOCKED;
	if (advice == KMM_MADV_FREE)
		return (vma->vm_flags & (VM_LOCKED | VM_SHARED)) || vma->vm_file;
	return false;
}

static int op_madvise(struct world *w, int ti)
{
	struct stask *s = &w->s[ti];
	unsigned long a = pick_addr(w, ti), len = (1 + rnd(w, 16)) * SPAGE;
	int adv = (int)rnd(w, 3);
	static const int advice[] = {KMM_MADV_DONTNEED, KMM_MADV_FREE, KMM_MADV_WILLNEED};
	note(w, "task %d madvise %#lx %lu pages %d", ti, a, len / SPAGE, advice[adv]);
	/* The errno: holes give ENOMEM at the end, a refused VMA EINVAL at once. */
	struct kmm_mm *mm = w->t[ti]->mm;
	int want = 0, unmapped = 0;
	unsigned long start = a, end = a + len;
	for (struct kmm_vma *vma = find_vma(mm, a);; vma = vma->vm_next) {
		if (!vma) {
			want = -ENOMEM;
			break;
		}
		if (start < vma->vm_start) {
			unmapped = -ENOMEM;
			start = vma->vm_start;
			if (start >= end)
				break;
		}
		if (madvise_refused(vma, advice[adv])) {
			want = -EINVAL;
			break;
		}
		start = vma->vm_end < end ? vma->vm_end : end;
		if (start >= end)
			break;
	}
	if (!want)
		want = unmapped;
	/* Shadow: apply to mapped pages up to the first page of a refused VMA. */
	for (unsigned long x = a; x < a + len; x += SPAGE) {
		struct spage *p = st_find(s, x);
		if (!p)
			continue;
		if (madvise_refused(find_vma(mm, x), advice[adv]))
			break;
		if (advice[adv] == KMM_MADV_DONTNEED && !p->shared) {
			free(p->priv);
			p->priv = NULL;
			p->lazy = false;
		} else if (advice[adv] == KMM_MADV_FREE && p->priv) {
			p->lazy = true;
		}
	}
	int r = kmm_madvise(w->t[ti], a, len, advice[adv]);
	if (r != want) {
		fprintf(stderr, "madvise returned %d, want %d\n", r, want);
		return -1;
	}
	return 0;
}

static int op_mlock(struct world *w, int ti)
{
	unsigned long a = pick_addr(w, ti), len = (1 + rnd(w, 8)) * SPAGE;
	bool lock = rnd(w, 3) != 0;
	note(w, "task %d %s %#lx %lu pages", ti, lock ? "mlock" : "munlock", a, len / SPAGE);
	int r = lock ? kmm_mlock(w->t[ti], a, len) : kmm_munlock(w->t[ti], a, len);
	/* A hole makes it fail with ENOMEM before anything is populated (as Linux). */
	int want = walk_contiguous(w, ti, a, len, no_change, 0);
	if (!want && lock)
		walk_contiguous(w, ti, a, len, populate_page, 0);
	if (r != want) {
		fprintf(stderr, "mlock returned %d, want %d\n", r, want);
		return -1;
	}
	return 0;
}

static int op_brk(struct world *w, int ti)
{
	struct kmm_task *t = w->t[ti];
	struct stask *s = &w->s[ti];
	long delta = (long)rnd(w, 40 * SPAGE) - 16 * (long)SPAGE;
	unsigned long nb = (unsigned long)((long)s->brk + delta);
	note(w, "task %d brk %#lx -> %#lx", ti, s->brk, nb);
	unsigned long oldb = (s->brk + SPAGE - 1) & ~(SPAGE - 1);
	unsigned long newb = (nb + SPAGE - 1) & ~(SPAGE - 1);
	unsigned long want = s->brk;
	if (nb < s->start_brk) {
		want = s->brk;
	} else if (newb == oldb) {
		want = nb;
	} else if (nb <= s->brk) {
		want = nb;
		st_remove(s, newb, oldb);
	} else {
		/* Growing: refused if anything is mapped up to one page past the new end. */
		size_t i = st_lower(s, oldb);
		struct kmm_vma *next = find_vma(t->mm, oldb);
		bool blocked = (i < s->n && s->pages[i].addr < newb + SPAGE) ||
			       (next && newb + SPAGE > next->vm_start);
		if (!blocked) {
			want = nb;
			for (unsigned long x = oldb; x < newb; x += SPAGE)
				st_insert(s,
					  &(struct spage){.addr = x,
							  .prot = KMM_PROT_READ | KMM_PROT_WRITE});
		}
	}
	unsigned long r = kmm_brk(t, nb);
	if (r != want) {
		fprintf(stderr, "brk returned %#lx, want %#lx\n", r, want);
		return -1;
	}
	s->brk = r;
	return 0;
}

/* Every task syncs its shared mappings; then the host files must equal the shadow. */
static int op_sync_all(struct world *w)
{
	note(w, "sync all and compare files");
	for (int ti = 0; ti < w->nt; ti++) {
		struct kmm_mm *mm = w->t[ti]->mm;
		for (struct kmm_vma *vma = mm->mmap; vma; vma = vma->vm_next) {
			if (!vma->vm_file || !(vma->vm_flags & VM_SHARED))
				continue;
			int r = kmm_msync(w->t[ti], vma->vm_start, vma->vm_end - vma->vm_start,
					  KMM_MS_SYNC);
			if (r) {
				fprintf(stderr, "msync: %d\n", r);
				return -1;
			}
		}
	}
	/* Pages dirtied through mappings that are gone stay dirty in the cache: fsync. */
	for (int fi = 0; fi < NFILES; fi++)
		if (kmm_file_fsync(w->f[fi]) || check_file(w, fi))
			return -1;
	return 0;
}

static int step(struct world *w)
{
	int ti = (int)rnd(w, (unsigned long)w->nt);
	unsigned long op = rnd(w, 100);
	if (getenv("KMM_TEST_VERBOSE"))
		fprintf(stderr, "[pid %d]\n", kmm_task_pid(w->t[ti]));
	if (op < 10)
		return op_mmap(w, ti);
	if (op < 15)
		return op_munmap(w, ti);
	if (op < 21)
		return op_mprotect(w, ti);
	if (op < 40)
		return op_write(w, ti, false);
	if (op < 45)
		return op_write(w, ti, true);
	if (op < 62)
		return op_read(w, ti);
	if (op < 66)
		return op_touch(w, ti);
	if (op < 70)
		return op_fork(w, ti);
	if (op < 72)
		return op_exit(w, ti);
	if (op < 73)
		return op_exec(w, ti);
	if (op < 74)
		return op_bad_access(w, ti);
	if (op < 80)
		return op_mremap(w, ti);
	if (op < 86)
		return op_madvise(w, ti);
	if (op < 89)
		return op_mlock(w, ti);
	if (op < 95)
		return op_brk(w, ti);
	if (op < 97)
		return check_task(w, ti);
	return op_sync_all(w);
}

static void make_files(struct world *w)
{
	snprintf(w->dir, sizeof(w->dir), "/tmp/kmm-integrity-XXXXXX");
	if (!mkdtemp(w->dir))
		abort();
	for (int fi = 0; fi < NFILES; fi++) {
		size_t size = (fi ? 37 : 9) * SPAGE + (fi ? 123 : 0);
		struct sobj *o = sobj_new((size + SPAGE - 1) / SPAGE, size, fi);
		fill(w, o->data, size, (unsigned long)fi);
		snprintf(w->path[fi], sizeof(w->path[fi]), "%s/file%d", w->dir, fi);
		int fd = open(w->path[fi], O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, o->data, size) != (ssize_t)size)
			abort();
		close(fd);
		struct kmm_error err = {0};
		w->f[fi] = kmm_file_open(w->m, w->path[fi], KMM_O_RDWR, 0, &err);
		if (!w->f[fi]) {
			fprintf(stderr, "%s\n", err.msg);
			abort();
		}
		w->fobj[fi] = o;
	}
}

static void remove_files(struct world *w)
{
	for (int fi = 0; fi < NFILES; fi++) {
		unlink(w->path[fi]);
		sobj_put(w->fobj[fi]);
	}
	rmdir(w->dir);
}

static void run_world(const char *options, unsigned long steps, uint64_t seed)
{
	static struct world w;
	memset(&w, 0, sizeof(w));
	kmm_rng_seed(&w.rng, seed);
	w.m = vm_boot(options);
	expect_ptr_not_null(w.m);
	unsigned long free0 = vm_free_pages(w.m);
	make_files(&w);
	w.t[0] = vm_task(w.m, "init", 0);
	expect_ptr_not_null(w.t[0]);
	w.nt = 1;
	shadow_exec(&w, 0);
	for (w.step = 0; w.step < steps; w.step++) {
		if (step(&w)) {
			dump_notes(&w);
			KMM_EXPECT_FAIL_("step %lu failed", w.step);
			return;
		}
		struct kmm_error e = {0};
		if (kmm_vm_validate(w.m, &e)) {
			dump_notes(&w);
			KMM_EXPECT_FAIL_("step %lu: %s", w.step, e.msg);
			return;
		}
	}
	for (int ti = 0; ti < w.nt; ti++)
		expect_int_eq(check_task(&w, ti), 0);
	/* Everyone exits: the last shared mappings write the files back. */
	while (w.nt)
		remove_task(&w, 0);
	for (int fi = 0; fi < NFILES; fi++)
		expect_int_eq(check_file(&w, fi), 0);
	expect_vm_valid(w.m);
	for (int fi = 0; fi < NFILES; fi++)
		kmm_file_close(w.f[fi]);
	expect_u64_eq(global_node_page_state(w.m, NR_FILE_PAGES), 0);
	expect_u64_eq(atomic_long_read(&vm_state(w.m)->nr_table_pages), 0);
	expect_u64_eq(vm_free_pages(w.m), free0);
	remove_files(&w);
	kmm_machine_destroy(w.m);
}

static void test_integrity_small(void)
{
	run_world("--mem 256M --nodes 1 --cpus 4", 3000 * kmm_test_scale, kmm_test_seed);
}

static void test_integrity_numa(void)
{
	run_world("--mem 1G --nodes 2 --cpus 4", 1500 * kmm_test_scale, kmm_test_seed + 1);
}

/* The same world on pte-chain reverse mapping: every step checks the chains too. */
static void test_integrity_ptechain(void)
{
	run_world("--mem 256M --nodes 1 --cpus 4 --rmap ptechain", 1000 * kmm_test_scale,
		  kmm_test_seed + 2);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_integrity_small);
	run_test(test_integrity_numa);
	run_test(test_integrity_ptechain);
	return kmm_test_done();
}
