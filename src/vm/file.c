/*
 * Files: host files opened for mapping, their inodes (one per host file,
 * so every mapping of a file shares one page cache), shared anonymous
 * memory (shmem), and the I/O that fills and writes back the page cache.
 *
 * Linux: fs/open.c and fs/file_table.c (struct file, fput), fs/inode.c
 * (iget by identity, iput, evict -> truncate_inode_pages), mm/shmem.c
 * (shmem_zero_setup: MAP_SHARED|MAP_ANONYMOUS is a file on a hidden tmpfs),
 * and a filesystem's read_folio/writepage pair, here pread/pwrite on the
 * host file. Reads beyond the end of the file give zeros (the tail of the
 * last page); writes stop at the file's size, so a mapping never grows the
 * file.
 *
 * When the last reference to an inode goes, its dirty pages are written
 * back and its page cache is dropped (for shmem, with its swap slots): kmm keeps no unreferenced inodes, so
 * the page cache of a closed, unmapped file is freed at once (Linux keeps it
 * until reclaim; drop_caches in kmm is therefore implicit).
 *
 * Locks: vm_state::inode_lock around the machine's inode list and inode
 * lookups; i_count is atomic.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>
#include <string.h>

static int host_read_pages(struct kmm_address_space *mapping, struct kmm_page **pages,
			   unsigned long index, unsigned int nr)
{
	struct kmm_inode *inode = mapping->host;
	struct kmm_machine *m = inode->machine;
	struct kmm_port_iovec iov[64];
	uint64_t off = (uint64_t)index << PAGE_SHIFT;
	size_t want = 0;
	for (unsigned int i = 0; i < nr; i++) {
		iov[i].base = page_address(m, pages[i]);
		iov[i].len = PAGE_SIZE;
		want += PAGE_SIZE;
	}
	size_t got = 0;
	while (got < want) {
		/* Skip the iovecs already filled (a short read continues where it stopped). */
		unsigned int first = (unsigned int)(got / PAGE_SIZE);
		struct kmm_port_iovec rest[64];
		for (unsigned int i = first; i < nr; i++)
			rest[i - first] = iov[i];
		rest[0].base = (char *)rest[0].base + got % PAGE_SIZE;
		rest[0].len -= got % PAGE_SIZE;
		long n = kmm_port_preadv(inode->fd, rest, (int)(nr - first), off + got);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break; /* end of file: the rest reads as zeros */
		got += (size_t)n;
	}
	for (size_t z = got; z < want; z = KMM_ALIGN(z + 1, PAGE_SIZE)) {
		unsigned int i = (unsigned int)(z / PAGE_SIZE);
		size_t o = z % PAGE_SIZE;
		memset((char *)iov[i].base + o, 0, PAGE_SIZE - o);
	}
	return 0;
}

static int host_writepage(struct kmm_address_space *mapping, struct kmm_page *page)
{
	struct kmm_inode *inode = mapping->host;
	uint64_t off = (uint64_t)page->index << PAGE_SHIFT;
	uint64_t size = i_size_read(inode);
	if (off >= size)
		return 0; /* wholly beyond the end: nothing of the file lives here */
	size_t len = size - off < PAGE_SIZE ? (size_t)(size - off) : PAGE_SIZE;
	const char *buf = page_address(inode->machine, page);
	size_t done = 0;
	while (done < len) {
		long n = kmm_port_pwrite(inode->fd, buf + done, len - done, off + done);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static const struct address_space_operations host_aops = {
    .read_pages = host_read_pages,
    .writepage = host_writepage,
};

static int shmem_read_pages(struct kmm_address_space *mapping, struct kmm_page **pages,
			    unsigned long index, unsigned int nr)
{
	(void)index;
	for (unsigned int i = 0; i < nr; i++)
		memset(page_address(mapping->host->machine, pages[i]), 0, PAGE_SIZE);
	return 0;
}

const struct address_space_operations shmem_aops = {
    .read_pages = shmem_read_pages,
    .writepage = NULL, /* reclaim sends shared memory to swap (swap/shmem_swap.c) */
};

static struct kmm_inode *inode_alloc(struct kmm_machine *m)
{
	struct kmm_inode *inode = kmm_kmem_cache_alloc(vm_state(m)->inode_cachep, GFP_KERNEL);
	if (!inode)
		return NULL;
	memset(inode, 0, sizeof(*inode));
	atomic_set(&inode->i_count, 1);
	inode->machine = m;
	inode->fd = -1;
	INIT_LIST_HEAD(&inode->i_list);
	init_rwsem(&inode->i_rwsem);
	return inode;
}

static struct kmm_file *file_alloc(struct kmm_machine *m, struct kmm_inode *inode,
				   unsigned int mode)
{
	struct kmm_file *f = kmm_kmem_cache_alloc(vm_state(m)->filp_cachep, GFP_KERNEL);
	if (!f)
		return NULL;
	atomic_set(&f->f_count, 1);
	f->f_magic = FILE_MAGIC;
	f->f_mode = mode;
	f->f_inode = inode;
	f->f_mapping = &inode->i_data;
	memset(&f->f_ra, 0, sizeof(f->f_ra));
	f->f_ra.prev_pos = ~0ULL;
	return f;
}

void iput(struct kmm_inode *inode)
{
	struct kmm_machine *m = inode->machine;
	struct vm_state *vm = vm_state(m);
	spin_lock(&vm->inode_lock);
	if (!atomic_dec_and_test(&inode->i_count)) {
		spin_unlock(&vm->inode_lock);
		return;
	}
	if (!list_empty(&inode->i_list))
		list_del_init(&inode->i_list);
	spin_unlock(&vm->inode_lock);
	filemap_write_and_wait_range(&inode->i_data, 0, ~0UL);
	truncate_inode_pages(&inode->i_data);
	if (inode->fd >= 0)
		kmm_port_close(inode->fd);
	kmm_kmem_cache_free(vm->inode_cachep, inode);
}

struct kmm_file *get_file(struct kmm_file *f)
{
	atomic_inc(&f->f_count);
	return f;
}

void fput(struct kmm_file *f)
{
	if (!atomic_dec_and_test(&f->f_count))
		return;
	struct kmm_inode *inode = f->f_inode;
	f->f_magic = 0; /* a later read or write through a stale pointer says EBADF */
	kmm_kmem_cache_free(vm_state(inode->machine)->filp_cachep, f);
	iput(inode);
}

struct kmm_file *kmm_file_open(struct kmm_machine *m, const char *path, int flags, int mode,
			       struct kmm_error *err)
{
	struct vm_state *vm = vm_state(m);
	int acc = flags & 3;
	if (acc == 3 || (flags & ~(3 | KMM_O_CREAT | KMM_O_TRUNC))) {
		kmm_error_set(err, -EINVAL, "kmm_file_open %s: bad flags %#x", path, flags);
		return NULL;
	}
	bool want_write = acc != KMM_O_RDONLY;
	int pflags =
	    (want_write ? KMM_PORT_O_WRITE : 0) | ((flags & KMM_O_CREAT) ? KMM_PORT_O_CREAT : 0);
	int fd = kmm_port_open_flags(path, pflags, mode);
	if (fd < 0) {
		kmm_error_set(err, fd, "cannot open %s: %s", path, kmm_port_strerror(-fd));
		return NULL;
	}
	uint64_t dev, ino, size;
	int e = kmm_port_fstat(fd, &dev, &ino, &size);
	if (e) {
		kmm_port_close(fd);
		kmm_error_set(err, e, "cannot stat %s: %s", path, kmm_port_strerror(-e));
		return NULL;
	}

	struct kmm_inode *inode = NULL, *it;
	spin_lock(&vm->inode_lock);
	list_for_each_entry (it, &vm->inodes, i_list) {
		if (it->dev == dev && it->ino == ino) {
			inode = it;
			atomic_inc(&inode->i_count);
			break;
		}
	}
	spin_unlock(&vm->inode_lock);

	if (inode) {
		if (flags & KMM_O_TRUNC) {
			iput(inode);
			kmm_port_close(fd);
			kmm_error_set(
			    err, -EBUSY,
			    "cannot open %s with O_TRUNC: it is open in the machine already", path);
			return NULL;
		}
		if (want_write && !inode->fd_writable) {
			/* Keep the writable descriptor: later writeback needs it. */
			int old = inode->fd;
			inode->fd = fd;
			inode->fd_writable = true;
			kmm_port_close(old);
		} else {
			kmm_port_close(fd);
		}
	} else {
		if ((flags & KMM_O_TRUNC) && want_write) {
			e = kmm_port_ftruncate(fd, 0);
			if (e) {
				kmm_port_close(fd);
				kmm_error_set(err, e, "cannot truncate %s: %s", path,
					      kmm_port_strerror(-e));
				return NULL;
			}
			size = 0;
		}
		inode = inode_alloc(m);
		if (!inode) {
			kmm_port_close(fd);
			kmm_error_set(err, -ENOMEM, "no memory for the inode of %s", path);
			return NULL;
		}
		inode->fd = fd;
		inode->fd_writable = want_write;
		inode->dev = dev;
		inode->ino = ino;
		inode->i_size = size;
		kmm_port_snprintf(inode->path, sizeof(inode->path), "%s", path);
		mapping_init(&inode->i_data, inode, &host_aops);
		spin_lock(&vm->inode_lock);
		list_add_tail(&inode->i_list, &vm->inodes);
		spin_unlock(&vm->inode_lock);
	}
	unsigned int fmode =
	    (acc != KMM_O_WRONLY ? FMODE_READ : 0) | (want_write ? FMODE_WRITE : 0);
	struct kmm_file *f = file_alloc(m, inode, fmode);
	if (!f) {
		iput(inode);
		kmm_error_set(err, -ENOMEM, "no memory for an open file of %s", path);
		return NULL;
	}
	return f;
}

void kmm_file_close(struct kmm_file *f)
{
	if (f)
		fput(f);
}

int kmm_file_fsync(struct kmm_file *f)
{
	return filemap_write_and_wait_range(f->f_mapping, 0, ~0UL);
}

uint64_t kmm_file_size(const struct kmm_file *f)
{
	return i_size_read(f->f_inode);
}

void kmm_file_cached(const struct kmm_file *f, unsigned long *pages, unsigned long *dirty)
{
	struct kmm_address_space *mapping = f->f_mapping;
	unsigned long n = 0, d = 0, index;
	struct kmm_page *page;
	spin_lock(&mapping->i_pages_lock);
	radix_tree_for_each(&mapping->i_pages, index, page, -1)
	{
		if (xa_is_value(page))
			continue; /* a shadow entry */
		n++;
		d += PageDirty(page);
	}
	spin_unlock(&mapping->i_pages_lock);
	*pages = n;
	*dirty = d;
}

struct kmm_file *shmem_file_setup(struct kmm_machine *m, uint64_t size)
{
	struct kmm_inode *inode = inode_alloc(m);
	if (!inode)
		return NULL;
	inode->i_size = size;
	kmm_port_snprintf(inode->path, sizeof(inode->path), "/dev/zero");
	mapping_init(&inode->i_data, inode, &shmem_aops);
	inode->i_data.flags |= 1UL << AS_SHMEM;
	/* Its value entries are swap entries, which stay (Linux mapping_set_update skips shmem). */
	radix_tree_set_update(&inode->i_data.i_pages, NULL, NULL, NULL);
	/* On the shared-memory list, where swapoff finds its swap entries (Linux shmem_swaplist). */
	struct vm_state *vm = vm_state(m);
	spin_lock(&vm->inode_lock);
	list_add_tail(&inode->i_list, &vm->shmem_inodes);
	spin_unlock(&vm->inode_lock);
	struct kmm_file *f = file_alloc(m, inode, FMODE_READ | FMODE_WRITE);
	if (!f)
		iput(inode);
	return f;
}
