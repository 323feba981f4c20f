/*
 * Memory-access traces: the reader and writer state shared by the format
 * files (memtrace.c: the API, files and format detection;
 * memtrace_binary.c: kmm's binary format; memtrace_text.c: valgrind
 * lackey text and page reference lists). Internal to sim/.
 */
#ifndef KMM_SIM_MEMTRACE_H
#define KMM_SIM_MEMTRACE_H

#include <stdio.h>
#include <kmm/sim.h>

/*
 * The binary format (docs/traces.md): a 16-byte header, then records,
 * then an end byte 0x00 and the record count as 8 bytes little-endian.
 */
#define MEMTRACE_MAGIC	       "\x89KMMTRC\n"
#define MEMTRACE_MAGIC_LEN     8
#define MEMTRACE_VERSION       1
#define MEMTRACE_HEADER_LEN    16
#define MEMTRACE_TRAILER_LEN   9
#define MEMTRACE_SIZE_EXPLICIT 63 /* size code: a varint size follows */
/* Longest record: header byte, 5-byte size varint, 10-byte address delta. */
#define MEMTRACE_MAX_RECORD    16

struct kmm_memtrace_reader {
	enum kmm_memtrace_format fmt;
	char name[256];
	const unsigned char *data; /* the whole trace */
	size_t len, pos;
	void *map; /* a mapped file, or */
	size_t map_len;
	char *heap; /* a copy of stdin */
	uint64_t count;
	uint64_t line; /* text: the line being read (1-based) */
	/* binary: address predictors (docs/traces.md) */
	uint64_t pred_i, pred_d;
	bool ended;
	int error; /* sticky: once set, every read returns it */
	char msg[sizeof(((struct kmm_error *)0)->msg)];
};

struct kmm_memtrace_writer {
	enum kmm_memtrace_format fmt;
	char name[256];
	FILE *f;
	bool close_f;
	uint64_t count;
	uint64_t pred_i, pred_d;
	size_t n;
	unsigned char buf[1 << 16];
};

/* Record a reader error (once) in the reader and @err; returns -EINVAL. */
__kmm_printf(3, 4) int memtrace_fail(struct kmm_memtrace_reader *r, struct kmm_error *err,
				     const char *fmt, ...);

int memtrace_binary_open(struct kmm_memtrace_reader *r, struct kmm_error *err);
long memtrace_binary_read(struct kmm_memtrace_reader *r, struct kmm_memtrace_rec *recs, size_t max,
			  struct kmm_error *err);
long memtrace_lackey_read(struct kmm_memtrace_reader *r, struct kmm_memtrace_rec *recs, size_t max,
			  struct kmm_error *err);
long memtrace_refs_read(struct kmm_memtrace_reader *r, struct kmm_memtrace_rec *recs, size_t max,
			struct kmm_error *err);

/* Writers append to w->buf; memtrace_flush() empties it into the file. */
int memtrace_flush(struct kmm_memtrace_writer *w, struct kmm_error *err);
int memtrace_binary_start(struct kmm_memtrace_writer *w, struct kmm_error *err);
int memtrace_binary_write(struct kmm_memtrace_writer *w, const struct kmm_memtrace_rec *recs,
			  size_t n, struct kmm_error *err);
int memtrace_binary_end(struct kmm_memtrace_writer *w, struct kmm_error *err);
int memtrace_lackey_write(struct kmm_memtrace_writer *w, const struct kmm_memtrace_rec *recs,
			  size_t n, struct kmm_error *err);
int memtrace_refs_write(struct kmm_memtrace_writer *w, const struct kmm_memtrace_rec *recs,
			size_t n, struct kmm_error *err);

#endif /* KMM_SIM_MEMTRACE_H */
