/*
 * A tiny program for a lackey trace with known contents (no C library, so
 * the trace holds only this code): it stores to every 64th byte of a
 * 16 KiB buffer (256 stores over 4 pages), adds 1 to every 256th byte (64
 * modifies), loads every 512th byte (32 loads), then exits.
 *
 *   gcc -nostdlib -static -o touch workloads/traces/touch.S
 *   valgrind --tool=lackey --trace-mem=yes ./touch 2> workloads/traces/touch.lackey
 */
	.bss
	.balign 4096
buf:	.zero 16384

	.text
	.globl _start
_start:
	lea	buf(%rip), %rdi
	mov	$256, %ecx
1:	movq	%rcx, (%rdi)
	add	$64, %rdi
	dec	%ecx
	jnz	1b

	lea	buf(%rip), %rdi
	mov	$64, %ecx
2:	addq	$1, (%rdi)
	add	$256, %rdi
	dec	%ecx
	jnz	2b

	lea	buf(%rip), %rdi
	mov	$32, %ecx
	xor	%eax, %eax
3:	add	(%rdi), %rax
	add	$512, %rdi
	dec	%ecx
	jnz	3b

	mov	$60, %eax
	xor	%edi, %edi
	syscall
