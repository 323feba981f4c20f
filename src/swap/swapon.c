/*
 * Swap areas: switching them on and off, the table of areas, and what
 * /proc/swaps and meminfo show of them.
 *
 * Linux: mm/swapfile.c — sys_swapon (alloc_swap_info, read_swap_header,
 * setup_swap_map_and_extents, enable_swap_info), sys_swapoff
 * (try_to_unuse, reinsert_swap_info), swap_show, si_swapinfo. The area's
 * backing is a host file opened through port/; its slot N is the file's
 * page N, so the file is its own single extent.
 *
 * Priorities as Linux: a given priority is 0..32767; without one an area
 * gets -2, -3, ... in swapon order (least_priority starts at -1), and
 * switching off an automatic-priority area moves the automatic priorities
 * after it up by one.
 *
 * swapoff must bring every page back before the file can go. Finding the
 * swap PTEs is the address-space layer's business (Linux's try_to_unuse
 * walks every mm), so vm/ registers kmm_swap_ops.unuse_area; without it an
 * area with slots in use refuses to go (-EBUSY) and stays on.
 *
 * Locks: swapon_mutex > swap_lock > si->lock > swap_avail_lock (internal.h).
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

/* --- The layer's state ---------------------------------------------------------------------------- */

static long swap_hook_nr_swap_pages(struct kmm_machine *m)
{
	return get_nr_swap_pages(m);
}

/* vm.page-cluster through kmm_sysctl_set(), which checked the range (0..31). */
static void swap_sysctl_set(struct kmm_machine *m, const char *name, long value)
{
	(void)name;
	WRITE_ONCE(swap_state(m)->page_cluster, (unsigned int)value);
}

static long swap_sysctl_get(struct kmm_machine *m, const char *name)
{
	(void)name;
	return READ_ONCE(swap_state(m)->page_cluster);
}

int swap_init(struct kmm_machine *m, struct kmm_error *err)
{
	struct swap_state *ss = kmm_port_alloc(sizeof(*ss));
	if (!ss)
		return kmm_error_set(err, -ENOMEM, "swap: out of host memory");
	ss->m = m;
	kmm_port_waitq_init(&ss->swapon_mutex);
	spin_lock_init(&ss->swap_lock);
	spin_lock_init(&ss->swap_avail_lock);
	INIT_LIST_HEAD(&ss->swap_active_head);
	INIT_LIST_HEAD(&ss->swap_avail_head);
	ss->least_priority = -1;
	ss->page_cluster = 3; /* vm.page-cluster: 8 slots of readahead */
	kmm_fault_attr_init(&ss->fail_write, m->cfg.seed + 11);
	kmm_fault_attr_init(&ss->fail_read, m->cfg.seed + 12);
	m->swap = ss;
	m->hooks.nr_swap_pages = swap_hook_nr_swap_pages;
	m->sysctl[KMM_SYSCTL_SWAP] = (struct kmm_sysctl_ops){swap_sysctl_set, swap_sysctl_get};
	swap_fault_init(m);
	shmem_swap_init(m);
	return 0;
}

static void swapon_lock(struct swap_state *ss)
{
	kmm_port_waitq_lock(&ss->swapon_mutex);
}
static void swapon_unlock(struct swap_state *ss)
{
	kmm_port_waitq_unlock(&ss->swapon_mutex);
}

/* Free what an area holds (not the structure: types are reused). */
static void swap_info_release(struct kmm_machine *m, struct swap_info *si)
{
	exit_swap_address_space(m, si);
	if (si->swap_map)
		kmm_port_free(si->swap_map, si->max);
	if (si->csum)
		kmm_port_free(si->csum, si->max * sizeof(*si->csum));
	if (si->cluster_info)
		kmm_port_free(si->cluster_info, si->nr_clusters * sizeof(*si->cluster_info));
	if (si->percpu_cluster)
		kmm_port_free(si->percpu_cluster, si->nr_cpu_slots * sizeof(*si->percpu_cluster));
	if (si->cluster_next_cpu)
		kmm_port_free(si->cluster_next_cpu,
			      si->nr_cpu_slots * sizeof(*si->cluster_next_cpu));
	if (si->fd >= 0)
		kmm_port_close(si->fd);
	WRITE_ONCE(si->swap_map, NULL);
	si->csum = NULL;
	si->cluster_info = NULL;
	si->percpu_cluster = NULL;
	si->cluster_next_cpu = NULL;
	si->fd = -1;
	si->max = 0;
}

/* Empty the swap cache of an area without asking anyone (the machine is going away). */
static void swap_cache_forget(struct kmm_machine *m, struct swap_info *si)
{
	for (unsigned int s = 0; s < si->nr_spaces; s++) {
		struct swap_address_space *space = &si->spaces[s];
		unsigned long index = 0;
		struct kmm_page *page;
		while ((page = radix_tree_next(&space->i_pages, &index, -1))) {
			if (xa_is_value(page)) {
				radix_tree_delete(&space->i_pages, index); /* a shadow entry */
				continue;
			}
			__delete_from_swap_cache(m, page, page_swap_entry(page));
			page_ref_add(page, -1);
			index++;
		}
	}
}

void swap_destroy(struct kmm_machine *m)
{
	struct swap_state *ss = swap_state(m);
	if (!ss)
		return;
	swap_io_destroy(m);
	for (unsigned int type = 0; type < ss->nr_swapfiles; type++) {
		struct swap_info *si = ss->swap_info[type];
		if (si->swap_map) {
			swap_cache_forget(m, si);
			swap_info_release(m, si);
		}
		if (si->users_pcpu)
			kmm_port_free(si->users_pcpu, (size_t)m->nr_cpus * sizeof(*si->users_pcpu));
		kmm_port_free(si, sizeof(*si));
	}
	if (ss->own_radix_cache)
		kmm_kmem_cache_destroy(ss->radix_node_cachep);
	kmm_port_waitq_destroy(&ss->swapon_mutex);
	m->hooks.nr_swap_pages = NULL;
	swap_fault_exit(m);
	shmem_swap_exit(m);
	m->swap = NULL;
	kmm_port_free(ss, sizeof(*ss));
}

void kmm_swap_set_ops(struct kmm_machine *m, const struct kmm_swap_ops *ops)
{
	struct swap_state *ss = swap_state(m);
	spin_lock(&ss->swap_lock);
	ss->ops = *ops;
	spin_unlock(&ss->swap_lock);
}

struct kmm_fault_attr *kmm_swap_fail_write(struct kmm_machine *m)
{
	return &swap_state(m)->fail_write;
}

struct kmm_fault_attr *kmm_swap_fail_read(struct kmm_machine *m)
{
	return &swap_state(m)->fail_read;
}

void kmm_swap_set_write_fault(struct kmm_machine *m, enum kmm_swap_write_fault kind)
{
	WRITE_ONCE(swap_state(m)->write_fault, kind);
}

/* --- swapon -------------------------------------------------------------------------------------------- */

/* A free slot of the area table (Linux alloc_swap_info). Context: swapon_mutex. */
static struct swap_info *alloc_swap_info(struct swap_state *ss, struct kmm_error *err)
{
	struct swap_info *si = NULL;
	unsigned int type;
	spin_lock(&ss->swap_lock);
	for (type = 0; type < ss->nr_swapfiles; type++)
		if (!(READ_ONCE(ss->swap_info[type]->flags) & SWP_USED))
			break;
	if (type >= MAX_SWAPFILES) {
		spin_unlock(&ss->swap_lock);
		kmm_error_set(err, -EPERM, "swapon: all %d swap areas are in use", MAX_SWAPFILES);
		return NULL;
	}
	if (type < ss->nr_swapfiles) {
		si = ss->swap_info[type];
	} else {
		spin_unlock(&ss->swap_lock);
		si = kmm_port_alloc(sizeof(*si));
		if (!si) {
			kmm_error_set(err, -ENOMEM, "swapon: out of host memory");
			return NULL;
		}
		spin_lock_init(&si->lock);
		si->machine = ss->m;
		/*
		 * Per-CPU references need swapoff's membarrier to see them;
		 * TSan cannot follow that, so its builds count on users alone.
		 */
		if (!KMM_TSAN && ss->m->nr_cpus > 0 && kmm_port_heavy_barrier_init())
			si->users_pcpu =
			    kmm_port_alloc((size_t)ss->m->nr_cpus * sizeof(*si->users_pcpu));
		INIT_LIST_HEAD(&si->list);
		INIT_LIST_HEAD(&si->avail_list);
		si->type = (signed char)type;
		spin_lock(&ss->swap_lock);
		__atomic_store_n(&ss->swap_info[type], si, __ATOMIC_RELEASE);
		ss->nr_swapfiles++;
	}
	__atomic_store_n(&si->flags, (unsigned long)SWP_USED, __ATOMIC_RELEASE);
	si->fd = -1;
	spin_unlock(&ss->swap_lock);
	return si;
}

static void free_swap_info_slot(struct swap_state *ss, struct swap_info *si)
{
	spin_lock(&ss->swap_lock);
	__atomic_store_n(&si->flags, 0UL, __ATOMIC_SEQ_CST);
	spin_unlock(&ss->swap_lock);
}

/* A fresh random (version 4) uuid, reproducible from the machine's seed. */
static void swap_make_uuid(struct swap_state *ss, const char *path, unsigned char uuid[16])
{
	struct kmm_rng rng;
	uint64_t h = ss->m->cfg.seed ^ (++ss->uuid_seq * 0x9e3779b97f4a7c15ULL);
	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	kmm_rng_seed(&rng, h);
	uint64_t a = kmm_rng_next(&rng), b = kmm_rng_next(&rng);
	memcpy(uuid, &a, 8);
	memcpy(uuid + 8, &b, 8);
	uuid[6] = (unsigned char)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (unsigned char)((uuid[8] & 0x3f) | 0x80);
}

/* mkswap: size the file and write a fresh header. */
static int swap_format(struct swap_state *ss, int fd, const char *path, uint64_t file_bytes,
		       uint64_t size, const char *label, unsigned char *page, struct kmm_error *err)
{
	unsigned long pages = (unsigned long)(size / PAGE_SIZE);
	if (pages < SWAP_MIN_PAGES)
		return kmm_error_set(err, -EINVAL,
				     "%s: swap area of %llu bytes is too small (at least %d pages "
				     "of %lu bytes, as mkswap asks)",
				     path, (unsigned long long)size, SWAP_MIN_PAGES, PAGE_SIZE);
	if (pages - 1 > 0xffffffffUL || pages > swp_max_offset())
		return kmm_error_set(err, -EINVAL, "%s: swap area of %llu bytes is too large", path,
				     (unsigned long long)size);
	if (label && strlen(label) > 16)
		return kmm_error_set(err, -EINVAL, "%s: swap label '%s' is longer than 16 bytes",
				     path, label);
	if (file_bytes) {
		/* Reformat only what already is a swap area: never overwrite a user's file. */
		long n = kmm_port_pread(fd, page, PAGE_SIZE, 0);
		if (n < (long)PAGE_SIZE || memcmp(page + PAGE_SIZE - SWAP_SIGNATURE_LEN,
						  SWAP_SIGNATURE, SWAP_SIGNATURE_LEN))
			return kmm_error_set(err, -EEXIST,
					     "%s: exists (%llu bytes) and is not a swap area; kmm "
					     "does not overwrite it (remove it, or swapon it with "
					     "size 0 after mkswap)",
					     path, (unsigned long long)file_bytes);
	}
	int r = kmm_port_ftruncate(fd, (uint64_t)pages * PAGE_SIZE);
	if (r)
		return kmm_error_set(err, r, "%s: cannot size the swap file to %llu bytes: %s",
				     path, (unsigned long long)pages * PAGE_SIZE,
				     kmm_port_strerror(-r));
	unsigned char uuid[16];
	swap_make_uuid(ss, path, uuid);
	swap_header_make(page, pages, uuid, label);
	long n = kmm_port_pwrite(fd, page, PAGE_SIZE, 0);
	if (n != (long)PAGE_SIZE)
		return kmm_error_set(err, n < 0 ? (int)n : -EIO,
				     "%s: cannot write the swap header: %s", path,
				     n < 0 ? kmm_port_strerror((int)-n) : "short write");
	return 0;
}

/* Insert @si into the active list by priority (Linux plist_add: after its equals). */
static void active_list_insert(struct swap_state *ss, struct swap_info *si)
{
	struct list_head *pos = &ss->swap_active_head;
	struct swap_info *p;
	list_for_each_entry (p, &ss->swap_active_head, list) {
		if (p->prio < si->prio)
			break;
		pos = &p->list;
	}
	list_add(&si->list, pos);
}

/* Put an area on the lists and count its slots (Linux _enable_swap_info). Context: swap_lock. */
static void enable_swap_info(struct kmm_machine *m, struct swap_info *si)
{
	struct swap_state *ss = swap_state(m);
	spin_lock(&si->lock);
	/* SWP_VALID publishes the maps setup_swap_area() built to get_swap_device(). */
	__atomic_fetch_or(&si->flags, (unsigned long)(SWP_WRITEOK | SWP_SOLIDSTATE | SWP_VALID),
			  __ATOMIC_RELEASE);
	atomic_long_add(si->pages - si->inuse_pages, &ss->nr_swap_pages);
	WRITE_ONCE(ss->total_swap_pages, ss->total_swap_pages + si->pages);
	active_list_insert(ss, si);
	if (si->highest_bit)
		swap_add_to_avail_list(m, si);
	spin_unlock(&si->lock);
}

/* Build the area's maps from its header. Context: swapon_mutex; @si not on any list. */
static int setup_swap_area(struct kmm_machine *m, struct swap_info *si,
			   const struct swap_header_info *hdr, struct kmm_error *err)
{
	unsigned long maxpages = (unsigned long)hdr->last_page + 1;
	if (maxpages > swp_max_offset()) {
		kmm_printk(m, "Truncating oversized swap area %s, only using %luk out of %luk",
			   si->path, swp_max_offset() << 2, maxpages << 2);
		maxpages = swp_max_offset();
	}
	si->max = (unsigned int)maxpages;
	si->nr_clusters = KMM_DIV_ROUND_UP(maxpages, (unsigned long)SWAPFILE_CLUSTER);
	si->nr_cpu_slots = (unsigned int)m->nr_cpus + 1;
	si->swap_map = kmm_port_alloc(maxpages);
	si->csum = kmm_port_alloc(maxpages * sizeof(*si->csum));
	si->cluster_info = kmm_port_alloc(si->nr_clusters * sizeof(*si->cluster_info));
	si->percpu_cluster = kmm_port_alloc(si->nr_cpu_slots * sizeof(*si->percpu_cluster));
	si->cluster_next_cpu = kmm_port_alloc(si->nr_cpu_slots * sizeof(*si->cluster_next_cpu));
	if (!si->swap_map || !si->csum || !si->cluster_info || !si->percpu_cluster ||
	    !si->cluster_next_cpu)
		return kmm_error_set(err, -ENOMEM, "%s: out of host memory for the swap map",
				     si->path);

	unsigned long nr_good = maxpages - 1; /* the header */
	si->swap_map[0] = SWAP_MAP_BAD;
	for (unsigned int i = 0; i < hdr->nr_badpages; i++) {
		unsigned int nr = hdr->badpages[i];
		if (nr < maxpages && si->swap_map[nr] != SWAP_MAP_BAD) {
			si->swap_map[nr] = SWAP_MAP_BAD;
			nr_good--;
		}
	}
	if (!nr_good)
		return kmm_error_set(err, -EINVAL, "%s: empty swap area (no usable page)",
				     si->path);
	si->pages = (unsigned int)nr_good;
	si->inuse_pages = 0;
	si->lowest_bit = 1;
	si->highest_bit = (unsigned int)maxpages - 1;
	si->nr_badpages = hdr->nr_badpages;
	kmm_rng_seed(&si->rng, m->cfg.seed * 31 + (uint64_t)si->type);
	setup_swap_clusters(si);
	for (unsigned int c = 0; c < si->nr_cpu_slots; c++) {
		/* A random start per CPU, as Linux does for SSDs (wear levelling). */
		si->cluster_next_cpu[c] = 1 + (unsigned int)swap_random(si, si->highest_bit);
		si->percpu_cluster[c].index.flags = CLUSTER_FLAG_NEXT_NULL;
		si->percpu_cluster[c].index.data = 0;
		si->percpu_cluster[c].next = 0;
	}
	atomic_long_set(&si->writes, 0);
	atomic_long_set(&si->reads, 0);
	atomic_long_set(&si->write_errors, 0);
	atomic_long_set(&si->read_errors, 0);
	atomic_long_set(&si->csum_errors, 0);
	atomic_long_set(&si->write_ios, 0);
	atomic_long_set(&si->read_ios, 0);
	atomic_long_set(&si->read_ns, 0);
	atomic_long_set(&si->writeback_started, 0);
	atomic_set(&si->users, 0);
	if (init_swap_address_space(m, si))
		return kmm_error_set(err, -ENOMEM, "%s: out of host memory for the swap cache",
				     si->path);
	return 0;
}

/* The radix tree node cache the swap cache shares with the page cache. */
static int swap_radix_cache(struct kmm_machine *m, struct kmm_error *err)
{
	struct swap_state *ss = swap_state(m);
	if (ss->radix_node_cachep)
		return 0;
	ss->radix_node_cachep = kmm_kmem_cache_find(m, "radix_tree_node");
	if (ss->radix_node_cachep)
		return 0;
	ss->radix_node_cachep =
	    kmm_kmem_cache_create(m, "radix_tree_node", sizeof(struct radix_tree_node), 0,
				  SLAB_RECLAIM_ACCOUNT, NULL, err);
	if (!ss->radix_node_cachep)
		return err ? err->code : -ENOMEM;
	ss->own_radix_cache = true;
	return 0;
}

int kmm_swapon(struct kmm_machine *m, const char *path, uint64_t size, int prio, unsigned int flags,
	       const char *label, struct kmm_error *err)
{
	struct swap_state *ss = swap_state(m);
	struct {
		uint64_t dev, ino, size;
	} st;
	unsigned char *buf = NULL;
	const size_t buflen = 65536;
	struct swap_header_info *hdr = NULL;
	struct swap_info *si = NULL;
	int fd = -1, ret;

	if (!ss)
		return kmm_error_set(err, -ENOSYS, "swapon: the machine has no swap layer");
	if (!path || !*path || strlen(path) >= sizeof(si->path))
		return kmm_error_set(err, -EINVAL, "swapon: bad path '%s'", path ? path : "");
	if (prio < -1 || prio > 32767)
		return kmm_error_set(err, -EINVAL,
				     "swapon %s: priority %d out of range (-1 for automatic, or "
				     "0..32767)",
				     path, prio);
	if (flags & ~KMM_SWAP_SYNC)
		return kmm_error_set(err, -EINVAL, "swapon %s: unknown flags %#x", path, flags);

	swapon_lock(ss);
	ret = swap_radix_cache(m, err);
	if (ret)
		goto out;
	fd = kmm_port_open_flags(path, KMM_PORT_O_WRITE | (size ? KMM_PORT_O_CREAT : 0), 0600);
	if (fd < 0) {
		ret = kmm_error_set(err, fd, "%s: cannot open: %s", path, kmm_port_strerror(-fd));
		goto out;
	}
	ret = kmm_port_fstat(fd, &st.dev, &st.ino, &st.size);
	if (ret || !kmm_port_fd_is_regular(fd)) {
		ret = kmm_error_set(err, ret ? ret : -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	for (unsigned int t = 0; t < ss->nr_swapfiles; t++) {
		struct swap_info *p = ss->swap_info[t];
		if ((READ_ONCE(p->flags) & SWP_USED) && p->swap_map && p->dev == st.dev &&
		    p->ino == st.ino) {
			ret = kmm_error_set(err, -EBUSY, "%s: already swap area %u", path, t);
			goto out;
		}
	}
	buf = kmm_port_alloc(buflen);
	hdr = kmm_port_alloc(sizeof(*hdr));
	if (!buf || !hdr) {
		ret = kmm_error_set(err, -ENOMEM, "swapon %s: out of host memory", path);
		goto out;
	}
	if (size) {
		ret = swap_format(ss, fd, path, st.size, size, label, buf, err);
		if (ret)
			goto out;
		kmm_port_fstat(fd, &st.dev, &st.ino, &st.size);
	}
	long n = kmm_port_pread(fd, buf, (size_t)kmm_min((uint64_t)buflen, st.size), 0);
	if (n < 0) {
		ret = kmm_error_set(err, (int)n, "%s: cannot read the swap header: %s", path,
				    kmm_port_strerror((int)-n));
		goto out;
	}
	ret = swap_header_parse(buf, st.size, path, hdr, err);
	if (ret)
		goto out;

	si = alloc_swap_info(ss, err);
	if (!si) {
		ret = err ? err->code : -ENOMEM;
		goto out;
	}
	si->fd = fd;
	fd = -1;
	si->swap_flags = flags;
	si->dev = st.dev;
	si->ino = st.ino;
	if (kmm_port_realpath(path, si->path, sizeof(si->path)))
		kmm_port_snprintf(si->path, sizeof(si->path), "%s", path);
	memcpy(si->uuid, hdr->uuid, 16);
	memcpy(si->label, hdr->label, sizeof(si->label));
	ret = setup_swap_area(m, si, hdr, err);
	if (ret)
		goto out;

	spin_lock(&ss->swap_lock);
	si->prio = (short)(prio >= 0 ? prio : --ss->least_priority);
	enable_swap_info(m, si);
	spin_unlock(&ss->swap_lock);
	kmm_printk(m, "Adding %luk swap on %s.  Priority:%d extents:1 across:%luk SS",
		   (unsigned long)si->pages << (PAGE_SHIFT - 10), path, si->prio,
		   (unsigned long)si->max << (PAGE_SHIFT - 10));
	ret = si->type;
	si = NULL;
out:
	if (si) {
		swap_info_release(m, si);
		free_swap_info_slot(ss, si);
	}
	if (fd >= 0)
		kmm_port_close(fd);
	if (buf)
		kmm_port_free(buf, buflen);
	if (hdr)
		kmm_port_free(hdr, sizeof(*hdr));
	swapon_unlock(ss);
	return ret;
}

/* --- swapoff ---------------------------------------------------------------------------------------------- */

/* Take an area off the lists (the first half of Linux sys_swapoff). Context: swap_lock. */
static void disable_swap_info(struct kmm_machine *m, struct swap_info *si)
{
	struct swap_state *ss = swap_state(m);
	swap_del_from_avail_list(m, si);
	spin_lock(&si->lock);
	if (si->prio < 0) {
		/* The automatic priorities after it move up (Linux keeps them dense). */
		for (struct list_head *pos = si->list.next; pos != &ss->swap_active_head;
		     pos = pos->next)
			list_entry(pos, struct swap_info, list)->prio++;
		ss->least_priority++;
	}
	list_del_init(&si->list);
	atomic_long_sub(si->pages, &ss->nr_swap_pages);
	WRITE_ONCE(ss->total_swap_pages, ss->total_swap_pages - si->pages);
	__atomic_fetch_and(&si->flags, ~(unsigned long)SWP_WRITEOK, __ATOMIC_RELEASE);
	spin_unlock(&si->lock);
}

/* Put an area back after a failed swapoff (Linux reinsert_swap_info). */
static void reinsert_swap_info(struct kmm_machine *m, struct swap_info *si)
{
	struct swap_state *ss = swap_state(m);
	spin_lock(&ss->swap_lock);
	atomic_long_add(si->inuse_pages, &ss->nr_swap_pages); /* enable adds only the free */
	enable_swap_info(m, si);
	spin_unlock(&ss->swap_lock);
}

/*
 * swapoff gives up (-EBUSY) after UNUSE_TRIES walks in a row that free no
 * slot, once UNUSE_PATIENCE_NS have passed since the last one that did.
 * Linux never gives up (only a signal stops it); kmm does, so that a slot
 * nothing will ever free cannot hang the caller. The time matters, not the
 * count: a task that is freeing a slot may be descheduled in the middle
 * (shmem_swapin between putting the page in its file and freeing the
 * slot), for as long as the host likes; 32 walks without progress took
 * less than that under load (the stuck "slots still in use" of stress runs).
 */
#define UNUSE_TRIES	  32
#define UNUSE_PATIENCE_NS 2000000000ull
#define UNUSE_BACKOFF_NS  1000000ull /* between walks that freed nothing */

/* Bring every page of @si back (Linux try_to_unuse). */
static int try_to_unuse(struct kmm_machine *m, struct swap_info *si, struct kmm_error *err)
{
	struct swap_state *ss = swap_state(m);
	/* A registered hook replaces swap/'s own walk of vm/'s page tables (unuse.c). */
	int (*unuse)(struct kmm_machine *, unsigned int) = ss->ops.unuse_area;
	if (!unuse)
		unuse = ss->vm_unuse;
	swap_cache_drop_unused(m, si);
	/*
	 * Walk again while slots remain, as Linux does until none is left: an
	 * exiting mm (which the walk must skip) or the truncation of shared
	 * memory nobody maps any more (whose inode it cannot take) frees its
	 * slots at its own pace, on another CPU. A walk after which fewer
	 * slots are in use starts the count of tries again; only walks that
	 * free nothing, UNUSE_TRIES in a row, make swapoff give up.
	 */
	unsigned int left = READ_ONCE(si->inuse_pages);
	uint64_t progress_ns = kmm_port_now_ns();
	for (int tries = 0;
	     left && (tries < UNUSE_TRIES || kmm_port_now_ns() - progress_ns < UNUSE_PATIENCE_NS);
	     tries++) {
		if (!unuse)
			return kmm_error_set(
			    err, -EBUSY,
			    "swapoff %s: %u slots in use and nothing registered to "
			    "bring them back (kmm_swap_ops.unuse_area)",
			    si->path, READ_ONCE(si->inuse_pages));
		int r = unuse(m, (unsigned int)si->type);
		if (r)
			return kmm_error_set(err, r,
					     "swapoff %s: bringing pages back failed: %s (%u slots "
					     "still in use)",
					     si->path, kmm_port_strerror(-r),
					     READ_ONCE(si->inuse_pages));
		swap_cache_drop_unused(m, si);
		unsigned int now = READ_ONCE(si->inuse_pages);
		if (now < left) {
			tries = -1; /* progress: the others free at their pace */
			progress_ns = kmm_port_now_ns();
		} else {
			if (tries < 4)
				kmm_port_yield();
			else
				kmm_port_sleep_ns(UNUSE_BACKOFF_NS);
		}
		left = now;
	}
	if (READ_ONCE(si->inuse_pages))
		return kmm_error_set(err, -EBUSY,
				     "swapoff %s: %u slots still in use after bringing pages back",
				     si->path, READ_ONCE(si->inuse_pages));
	return 0;
}

int kmm_swapoff(struct kmm_machine *m, const char *path, struct kmm_error *err)
{
	struct swap_state *ss = swap_state(m);
	uint64_t dev = 0, ino = 0, fsize;
	struct swap_info *si = NULL;
	char real[256];
	int ret;

	if (!ss)
		return kmm_error_set(err, -EINVAL, "swapoff %s: no swap areas", path);
	/* The file may be gone or unreadable: match by resolved name as well as by inode. */
	bool have_st = false;
	int fd = kmm_port_open_flags(path, 0, 0);
	if (fd >= 0) {
		have_st = !kmm_port_fstat(fd, &dev, &ino, &fsize);
		kmm_port_close(fd);
	}
	if (kmm_port_realpath(path, real, sizeof(real)))
		kmm_port_snprintf(real, sizeof(real), "%s", path);

	swapon_lock(ss);
	spin_lock(&ss->swap_lock);
	struct swap_info *p;
	list_for_each_entry (p, &ss->swap_active_head, list) {
		if ((have_st && p->dev == dev && p->ino == ino) || !strcmp(p->path, real)) {
			si = p;
			break;
		}
	}
	if (!si) {
		spin_unlock(&ss->swap_lock);
		ret = kmm_error_set(err, -EINVAL, "swapoff %s: not an active swap area", path);
		goto out;
	}
	disable_swap_info(m, si);
	spin_unlock(&ss->swap_lock);

	ret = try_to_unuse(m, si, err);
	if (ret) {
		reinsert_swap_info(m, si);
		goto out;
	}
	/* Nobody may be inside the area any more: wait for lookups and scans to leave. */
	spin_lock(&ss->swap_lock);
	spin_lock(&si->lock);
	__atomic_fetch_and(&si->flags, ~(unsigned long)(SWP_USED | SWP_VALID), __ATOMIC_SEQ_CST);
	WRITE_ONCE(si->highest_bit, 0);
	spin_unlock(&si->lock);
	spin_unlock(&ss->swap_lock);
	/*
	 * A CPU's get_swap_device stores its count, then reads the flags, with
	 * no fence between: the membarrier makes every thread pass a full
	 * barrier, after which each either saw SWP_VALID gone or has its count
	 * where the sum below reads it.
	 */
	if (si->users_pcpu)
		kmm_port_heavy_barrier();
	while (swap_device_users(si) || (READ_ONCE(si->flags) >= SWP_SCANNING))
		kmm_port_yield();
	swap_io_forget(m, si); /* the I/O thread's write-backs name the file */
	swap_info_release(m, si);
	free_swap_info_slot(ss, si);
	ret = 0;
out:
	swapon_unlock(ss);
	return ret;
}

/* --- Views and totals --------------------------------------------------------------------------------------- */

/* Print a path as seq_file_path does: space, tab, newline and backslash as octal escapes. */
static int show_escaped_path(struct kmm_buf *out, const char *path)
{
	int len = 0;
	for (const char *p = path; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\') {
			kmm_buf_printf(out, "\\%03o", (unsigned char)*p);
			len += 4;
		} else {
			kmm_buf_printf(out, "%c", *p);
			len++;
		}
	}
	return len;
}

void kmm_show_swaps(struct kmm_machine *m, struct kmm_buf *out)
{
	struct swap_state *ss = swap_state(m);
	kmm_buf_puts(out, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	if (!ss)
		return;
	swapon_lock(ss);
	for (unsigned int type = 0; type < ss->nr_swapfiles; type++) {
		struct swap_info *si = ss->swap_info[type];
		if (!(READ_ONCE(si->flags) & SWP_USED) || !si->swap_map)
			continue;
		unsigned long bytes = (unsigned long)si->pages << (PAGE_SHIFT - 10);
		unsigned long inuse = (unsigned long)READ_ONCE(si->inuse_pages)
				      << (PAGE_SHIFT - 10);
		int len = show_escaped_path(out, si->path);
		kmm_buf_printf(out, "%*s%s\t%lu\t%s%lu\t%s%d\n", len < 40 ? 40 - len : 1, " ",
			       "file\t", bytes, bytes < 10000000 ? "\t" : "", inuse,
			       inuse < 10000000 ? "\t" : "", si->prio);
	}
	swapon_unlock(ss);
}

void kmm_swap_totals(struct kmm_machine *m, struct kmm_swap_totals *t)
{
	struct swap_state *ss = swap_state(m);
	unsigned long to_be_unused = 0;
	memset(t, 0, sizeof(*t));
	if (!ss)
		return;
	spin_lock(&ss->swap_lock);
	for (unsigned int type = 0; type < ss->nr_swapfiles; type++) {
		struct swap_info *si = ss->swap_info[type];
		if ((READ_ONCE(si->flags) & SWP_USED) && !(READ_ONCE(si->flags) & SWP_WRITEOK))
			to_be_unused += READ_ONCE(si->inuse_pages);
		if (si->swap_map) {
			t->write_errors += (unsigned long)atomic_long_read(&si->write_errors);
			t->read_errors += (unsigned long)atomic_long_read(&si->read_errors);
			t->csum_errors += (unsigned long)atomic_long_read(&si->csum_errors);
			for (unsigned int s = 0; s < si->nr_spaces; s++)
				t->cached += READ_ONCE(si->spaces[s].nrpages);
		}
	}
	t->nr_swap_pages = atomic_long_read(&ss->nr_swap_pages);
	t->total_swap_pages = ss->total_swap_pages;
	spin_unlock(&ss->swap_lock);
	/* Linux si_swapinfo: an area being switched off still counts what it holds. */
	long freeswap = t->nr_swap_pages + (long)to_be_unused;
	t->free = freeswap > 0 ? (unsigned long)freeswap : 0;
	t->total = (unsigned long)t->total_swap_pages + to_be_unused;
}

int kmm_swap_area_info(struct kmm_machine *m, int type, struct kmm_swap_area_info *info)
{
	struct swap_state *ss = swap_state(m);
	memset(info, 0, sizeof(*info));
	if (!ss || type < 0 || type >= MAX_SWAPFILES)
		return -ENOENT;
	swapon_lock(ss);
	struct swap_info *si = (unsigned int)type < ss->nr_swapfiles ? ss->swap_info[type] : NULL;
	if (!si || !(READ_ONCE(si->flags) & SWP_USED) || !si->swap_map) {
		swapon_unlock(ss);
		return -ENOENT;
	}
	spin_lock(&si->lock);
	info->type = type;
	info->prio = si->prio;
	info->active = READ_ONCE(si->flags) & SWP_WRITEOK;
	kmm_port_snprintf(info->path, sizeof(info->path), "%s", si->path);
	swap_uuid_format(si->uuid, info->uuid);
	memcpy(info->label, si->label, sizeof(info->label));
	info->max = si->max;
	info->pages = si->pages;
	info->inuse_pages = si->inuse_pages;
	info->nr_clusters = si->nr_clusters;
	for (unsigned long i = 0; i < si->nr_clusters; i++)
		info->free_clusters += (si->cluster_info[i].flags & CLUSTER_FLAG_FREE) ? 1 : 0;
	spin_unlock(&si->lock);
	for (unsigned int s = 0; s < si->nr_spaces; s++)
		info->cached += READ_ONCE(si->spaces[s].nrpages);
	info->writes = (unsigned long)atomic_long_read(&si->writes);
	info->reads = (unsigned long)atomic_long_read(&si->reads);
	info->write_errors = (unsigned long)atomic_long_read(&si->write_errors);
	info->read_errors = (unsigned long)atomic_long_read(&si->read_errors);
	info->csum_errors = (unsigned long)atomic_long_read(&si->csum_errors);
	info->write_ios = (unsigned long)atomic_long_read(&si->write_ios);
	info->read_ios = (unsigned long)atomic_long_read(&si->read_ios);
	info->read_ns = (unsigned long)atomic_long_read(&si->read_ns);
	info->writeback_started = (unsigned long)atomic_long_read(&si->writeback_started);
	swapon_unlock(ss);
	return 0;
}

int swap_boot_areas(struct kmm_machine *m, struct kmm_error *err)
{
	for (int i = 0; i < m->cfg.nr_swap; i++) {
		const struct kmm_swap_spec *s = &m->cfg.swap[i];
		int r = kmm_swapon(m, s->path, s->size, s->prio, 0, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}
