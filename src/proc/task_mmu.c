/*
 * /proc/<pid>/maps and the memory lines of /proc/<pid>/status, in Linux
 * 6.1's formats.
 *
 * Linux: fs/proc/task_mmu.c (show_map_vma, task_mem). maps pads the name
 * column to 73 characters as seq_pad does on 64-bit; device numbers are
 * the host file's, split as the kernel's MAJOR/MINOR of a dev_t; shared
 * anonymous memory shows as "/dev/zero (deleted)", the heap and the stack
 * by their bracketed names.
 */
#include "../vm/vm.h"

static unsigned int dev_major(uint64_t dev)
{
	return (unsigned int)(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffULL));
}

static unsigned int dev_minor(uint64_t dev)
{
	return (unsigned int)((dev & 0xff) | ((dev >> 12) & ~0xffULL));
}

static void show_map_vma(struct kmm_buf *out, struct kmm_mm *mm, struct kmm_vma *vma)
{
	unsigned long flags = vma->vm_flags;
	struct kmm_inode *inode = vma->vm_file ? vma->vm_file->f_inode : NULL;
	unsigned long long pgoff = inode ? (unsigned long long)vma->vm_pgoff << PAGE_SHIFT : 0;
	unsigned int major = 0, minor = 0;
	unsigned long ino = 0;
	if (inode && inode->fd >= 0) {
		major = dev_major(inode->dev);
		minor = dev_minor(inode->dev);
		ino = (unsigned long)inode->ino;
	}
	size_t start = out->len;
	kmm_buf_printf(out, "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ", vma->vm_start,
		       vma->vm_end, flags & VM_READ ? 'r' : '-', flags & VM_WRITE ? 'w' : '-',
		       flags & VM_EXEC ? 'x' : '-', flags & VM_MAYSHARE ? 's' : 'p', pgoff, major,
		       minor, ino);
	const char *name = NULL;
	char buf[300];
	if (inode) {
		if (inode->fd < 0)
			kmm_port_snprintf(buf, sizeof(buf), "/dev/zero (deleted)");
		else
			kmm_port_snprintf(buf, sizeof(buf), "%s", inode->path);
		name = buf;
	} else if (vma->vm_start <= mm->brk && vma->vm_end >= mm->start_brk) {
		name = "[heap]";
	} else if (vma->vm_start <= mm->start_stack && vma->vm_end >= mm->start_stack) {
		name = "[stack]";
	}
	if (name) {
		/* seq_pad: the name starts at column 73 (25 + 6 * sizeof(void *) - 1). */
		while (out->len - start < 73)
			kmm_buf_puts(out, " ");
		kmm_buf_puts(out, name);
	}
	kmm_buf_puts(out, "\n");
}

void kmm_show_maps(struct kmm_task *t, struct kmm_buf *out)
{
	struct kmm_mm *mm = t->mm;
	if (!mm)
		return;
	mmap_read_lock(mm);
	for (struct kmm_vma *vma = mm->mmap; vma; vma = vma->vm_next)
		show_map_vma(out, mm, vma);
	mmap_read_unlock(mm);
}

static void show_kb(struct kmm_buf *out, const char *name, unsigned long pages)
{
	kmm_buf_printf(out, "%s\t%8lu kB\n", name, pages << (PAGE_SHIFT - 10));
}

void kmm_show_task_status(struct kmm_task *t, struct kmm_buf *out)
{
	struct kmm_mm *mm = t->mm;
	kmm_buf_printf(out, "Name:\t%s\nPid:\t%d\n", t->comm, t->pid);
	if (!mm)
		return;
	unsigned long anon = (unsigned long)get_mm_counter(mm, MM_ANONPAGES);
	unsigned long file = (unsigned long)get_mm_counter(mm, MM_FILEPAGES);
	unsigned long shmem = (unsigned long)get_mm_counter(mm, MM_SHMEMPAGES);
	unsigned long rss = anon + file + shmem;
	unsigned long hiwater_vm = kmm_max(mm->hiwater_vm, mm->total_vm);
	unsigned long hiwater_rss = kmm_max(mm->hiwater_rss, rss);
	show_kb(out, "VmPeak:", hiwater_vm);
	show_kb(out, "VmSize:", mm->total_vm);
	show_kb(out, "VmLck:", mm->locked_vm);
	show_kb(out, "VmPin:", 0);
	show_kb(out, "VmHWM:", hiwater_rss);
	show_kb(out, "VmRSS:", rss);
	show_kb(out, "RssAnon:", anon);
	show_kb(out, "RssFile:", file);
	show_kb(out, "RssShmem:", shmem);
	show_kb(out, "VmData:", mm->data_vm);
	show_kb(out, "VmStk:", mm->stack_vm);
	show_kb(out, "VmExe:", mm->exec_vm);
	show_kb(out, "VmLib:", 0);
	kmm_buf_printf(out, "VmPTE:\t%8lu kB\n",
		       (unsigned long)atomic_long_read(&mm->pgtables_bytes) >> 10);
	show_kb(out, "VmSwap:", (unsigned long)get_mm_counter(mm, MM_SWAPENTS));
}
