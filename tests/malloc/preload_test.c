/*
 * Real programs on libkmm-malloc: each runs with LD_PRELOAD=libkmm-malloc.so
 * and without it, and must print the same (and exit the same).
 *
 *  - the pthread stress program of tests/malloc/programs (threads beyond
 *    the heap's CPUs, frees on other threads, realloc and memalign, thread
 *    exit), and its fork mode (fork while other threads allocate);
 *  - python3 with PYTHONMALLOC=malloc (every object through malloc) running
 *    stdlib test modules;
 *  - perl with heavy hash and string work;
 *  - git: init, add, commit, log, gc, fsck on a generated repository;
 *  - sqlite3: 100k rows inserted, queried, indexed (installed with apt-get
 *    when missing and root, else skipped with a message);
 *  - the heap's own behaviour seen from outside: ENOMEM when its RAM is
 *    exhausted, the abort messages of misuse, debug reports, statistics at
 *    exit, and the resident set falling after a peak.
 */
#define _GNU_SOURCE
#include "kmm_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

#define LIB	      KMM_BINARY_DIR "/libkmm-malloc.so"
#define STRESS	      KMM_BINARY_DIR "/malloc/stress"
#define STRESS_LINKED KMM_BINARY_DIR "/malloc/stress-linked"
#define TIMEOUT	      300

struct run {
	int status;
	char *out, *err;
	size_t out_len, err_len;
};

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = 0;
}

/*
 * Run @argv with the environment plus @env (NULL-terminated "NAME=value"),
 * LD_PRELOAD=libkmm-malloc.so if @preload; capture stdout and stderr.
 */
static void run(struct run *r, char *const argv[], const char *const env[], bool preload)
{
	int out[2], err[2];
	memset(r, 0, sizeof(*r));
	append(&r->out, &r->out_len, "", 0);
	append(&r->err, &r->err_len, "", 0);
	if (pipe(out) || pipe(err)) {
		r->status = -1;
		return;
	}
	char *envp[256];
	int n = 0;
	for (char **e = environ; *e && n < 200; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "KMM_MALLOC_", 11))
			envp[n++] = *e;
	for (int i = 0; env && env[i]; i++)
		envp[n++] = (char *)env[i];
	if (preload)
		envp[n++] = "LD_PRELOAD=" LIB;
	envp[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	struct pollfd pfd[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
	int open_fds = 2;
	time_t deadline = time(NULL) + TIMEOUT;
	while (open_fds) {
		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			break;
		if (time(NULL) > deadline) {
			kill(pid, SIGKILL);
			fprintf(stderr, "%s: timed out after %d s\n", argv[0], TIMEOUT);
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			char buf[65536];
			ssize_t k = read(pfd[i].fd, buf, sizeof(buf));
			if (k <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
			} else if (i == 0) {
				append(&r->out, &r->out_len, buf, (size_t)k);
			} else {
				append(&r->err, &r->err_len, buf, (size_t)k);
			}
		}
	}
	waitpid(pid, &r->status, 0);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static bool exited_0(const struct run *r)
{
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

/* The first line where @a and @b differ, for the failure message. */
static void report_difference(const char *what, const char *a, const char *b)
{
	size_t line = 1, i = 0;
	while (a[i] && a[i] == b[i]) {
		if (a[i] == '\n')
			line++;
		i++;
	}
	size_t start = i;
	while (start && a[start - 1] != '\n')
		start--;
	KMM_EXPECT_FAIL_("%s differs at line %zu:\n  without: %.120s\n  with:    %.120s", what,
			 line, a + start, b + start);
}

/*
 * Run @argv without and with the library; both must exit 0 and print the
 * same on stdout (and on stderr if @same_stderr), after @normalize if given.
 */
static void compare(const char *what, char *const argv[], const char *const env[], bool same_stderr,
		    void (*normalize)(char *))
{
	struct run a, b;
	run(&a, argv, env, false);
	run(&b, argv, env, true);
	if (normalize) {
		normalize(a.out);
		normalize(b.out);
		normalize(a.err);
		normalize(b.err);
	}
	if (!exited_0(&a))
		KMM_EXPECT_FAIL_("%s without the library: status %#x\n%s", what, a.status, a.err);
	else if (!exited_0(&b))
		KMM_EXPECT_FAIL_("%s with the library: status %#x\n%s", what, b.status, b.err);
	else if (strcmp(a.out, b.out))
		report_difference(what, a.out, b.out);
	else if (same_stderr && strcmp(a.err, b.err))
		report_difference(what, a.err, b.err);
	else
		printf("  %s: same output (%zu bytes)\n", what,
		       a.out_len + (same_stderr ? a.err_len : 0));
	run_free(&a);
	run_free(&b);
}

static bool have(const char *program)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", program);
	return system(cmd) == 0;
}

/* --- The stress program ------------------------------------------------------------------ */

static void test_stress_threads(void)
{
	char seed[32];
	snprintf(seed, sizeof(seed), "%" PRIu64, kmm_test_seed);
	char ops[32];
	snprintf(ops, sizeof(ops), "%lu", 4000 * kmm_test_scale);
	/* 12 threads: more than the 8 CPUs of the heap (some share, some go without). */
	char *argv[] = {STRESS, "threads", "12", ops, seed, NULL};
	compare("stress threads", argv, NULL, true, NULL);
}

static void test_stress_fork(void)
{
	char forks[32];
	snprintf(forks, sizeof(forks), "%lu", 10 * kmm_test_scale);
	char *argv[] = {STRESS, "fork", "3", forks, NULL};
	compare("stress fork", argv, NULL, true, NULL);
}

/* Linked with -lkmm-malloc instead of preloaded: the same heap, the same output. */
static void test_linked(void)
{
	const char *env[] = {"KMM_MALLOC_STATS=1", NULL};
	char *argv[] = {STRESS_LINKED, "stats", NULL};
	struct run r;
	run(&r, argv, env, false);
	expect_true(exited_0(&r));
	expect_str_eq(r.out, "stats: done\n");
	expect_str_contains(r.err, "kmm-malloc: 65536 MiB of RAM");
	run_free(&r);

	char seed[32];
	snprintf(seed, sizeof(seed), "%" PRIu64, kmm_test_seed);
	char *threads_linked[] = {STRESS_LINKED, "threads", "12", "2000", seed, NULL};
	char *threads_plain[] = {STRESS, "threads", "12", "2000", seed, NULL};
	struct run a;
	run(&a, threads_plain, NULL, false);
	run(&r, threads_linked, NULL, false);
	expect_true(exited_0(&a));
	expect_true(exited_0(&r));
	expect_str_eq(r.out, a.out);
	printf("  linked: stress threads, same output (%zu bytes)\n", r.out_len);
	run_free(&a);
	run_free(&r);
}

/* --- The heap seen from outside -------------------------------------------------------------- */

static void test_enomem(void)
{
	const char *env[] = {"KMM_MALLOC_RAM=256M", NULL};
	char *argv[] = {STRESS, "enomem", NULL};
	struct run r;
	run(&r, argv, env, true);
	unsigned long blocks = 0;
	char then[32] = "";
	expect_true(exited_0(&r));
	expect_int_eq(sscanf(r.out, "enomem: %lu blocks of 1 MiB, then %31s", &blocks, then), 2);
	printf("  256 MiB of RAM: %lu blocks of 1 MiB before ENOMEM\n", blocks);
	expect_str_eq(then, "ENOMEM");
	/* The whole RAM less the memmap, the machine's own data and the min watermark. */
	expect_u64_ge(blocks, 236);
	expect_u64_le(blocks, 255);
	expect_str_contains(r.out, "enomem: 4 MiB: ENOMEM\n");
	expect_str_contains(r.out, "enomem: after freeing: allocated\n");
	run_free(&r);
}

static void expect_abort(const char *mode, const char *const env[], const char *message)
{
	char *argv[] = {STRESS, (char *)mode, NULL};
	struct run r;
	run(&r, argv, env, true);
	if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGABRT)
		KMM_EXPECT_FAIL_("%s: expected an abort, got status %#x\n%s%s", mode, r.status,
				 r.out, r.err);
	expect_str_contains(r.err, message);
	run_free(&r);
}

static void test_misuse(void)
{
	expect_abort("doublefree", NULL, "kmm-malloc: free(): double free of 0x");
	expect_abort("badfree", NULL, "kmm-malloc: free(): invalid pointer 0x");
	expect_abort("stackfree", NULL, "kmm-malloc: free(): invalid pointer 0x");
	expect_abort("bigdouble", NULL, "kmm-malloc: free(): invalid pointer 0x");
	/* A one-byte overflow: found by the red zone with KMM_MALLOC_DEBUG=1, with its report. */
	const char *debug[] = {"KMM_MALLOC_DEBUG=1", NULL};
	expect_abort("overflow", debug, "BUG malloc-48 (kmm): Right Redzone overwritten");
	expect_abort("overflow", debug, "Allocated in stress+0x");
	expect_abort("overflow", debug, "kmm-malloc: heap corruption: Right Redzone overwritten");
	/* ... and not without it (as glibc, which would not see it either). */
	char *argv[] = {STRESS, "overflow", NULL};
	struct run r;
	run(&r, argv, NULL, true);
	expect_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
	run_free(&r);
}

static void test_stats(void)
{
	const char *env[] = {"KMM_MALLOC_STATS=1", NULL};
	char *argv[] = {STRESS, "stats", NULL};
	struct run r;
	run(&r, argv, env, true);
	expect_true(exited_0(&r));
	expect_str_eq(r.out, "stats: done\n");
	expect_str_contains(r.err, "kmm-malloc: 65536 MiB of RAM");
	expect_str_contains(r.err, "1 threads (1 with a CPU of their own, 0 sharing)");
	expect_str_contains(r.err, "\nmalloc-48 ");
	expect_str_contains(r.err, "Node 0, zone   Normal");
	run_free(&r);
}

/* "rss: ..." figures in MiB from the stress program's rss mode. */
static long figure(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	return p ? strtol(p + strlen(label), NULL, 10) : -1;
}

static void test_rss(void)
{
	struct run r;
	char *trim[] = {STRESS, "rss", "trim", NULL};
	run(&r, trim, NULL, true);
	long base = figure(r.out, "base "), peak = figure(r.out, "peak ");
	long after = figure(r.out, "after malloc_trim (1): ");
	printf("  malloc_trim: base %ld MiB, peak %ld MiB, after %ld MiB\n", base, peak, after);
	expect_true(exited_0(&r));
	expect_i64_ge(peak, base + 320);
	expect_i64_le(after, base + 24);
	run_free(&r);

	/*
	 * Without malloc_trim: small calls go on, and after the delay the memory
	 * goes. The delay (epochs of 500 ms) is long beside the time the frees
	 * take even on a loaded machine, so that at the free only the threshold
	 * has acted, and short beside the 2.5 s of calls that follow.
	 */
	const char *fast[] = {"KMM_MALLOC_DECAY_MS=1000", NULL};
	char *decay[] = {STRESS, "rss", "decay", NULL};
	run(&r, decay, fast, true);
	base = figure(r.out, "base ");
	peak = figure(r.out, "peak ");
	long freed = figure(r.out, "after free ");
	after = figure(r.out, "after 2.5 s of small calls: ");
	printf("  decay: base %ld MiB, peak %ld MiB, at free %ld MiB, 2.5 s later %ld MiB\n", base,
	       peak, freed, after);
	expect_true(exited_0(&r));
	/*
	 * At the free only the threshold (256 MiB retained at most) applies,
	 * unless the frees themselves took long enough for the decay to act
	 * (a loaded machine: the process was not running for seconds).
	 */
	long took = figure(r.out, "frees took ");
	if (took < 500)
		expect_i64_ge(freed, base + 200);
	else
		printf("  decay: the frees took %ld ms, so the decay may have acted already: "
		       "the figure at the free is not checked\n",
		       took);
	expect_i64_le(after, base + 40);
	run_free(&r);

	/* Freed and allocated again at once: the second round needs no more memory. */
	char *reuse[] = {STRESS, "rss", "reuse", NULL};
	run(&r, reuse, NULL, true);
	long peak0 = figure(r.out, "round 0: base "), peak1;
	const char *second = strstr(r.out, "round 1:");
	peak0 = figure(r.out, "peak ");
	peak1 = second ? figure(second, "peak ") : -1;
	printf("  reuse: peak %ld MiB, then %ld MiB\n", peak0, peak1);
	expect_true(exited_0(&r));
	expect_i64_le(peak1, peak0 + 4);
	run_free(&r);
}

/* --- Real programs ------------------------------------------------------------------------------ */

/* unittest's "Ran N tests in 1.234s": the time differs from run to run (and in its digits). */
static void normalize_unittest(char *text)
{
	for (char *p = strstr(text, " tests in "); p; p = strstr(p + 1, " tests in ")) {
		char *num = p + 10, *q = num;
		while ((*q >= '0' && *q <= '9') || *q == '.')
			q++;
		if (q > num) {
			*num = 'T';
			memmove(num + 1, q, strlen(q) + 1);
		}
	}
}

static void test_python(void)
{
	if (!have("python3")) {
		printf("  python3 is not installed: skipped\n");
		return;
	}
	/* Four stdlib modules (about 15 s a run on a loaded 2-CPU machine); four more from scale 2. */
	char *argv[16] = {
	    "python3",	      "-m",	     "unittest", "-q", "test.test_list", "test.test_dict",
	    "test.test_json", "test.test_re"};
	if (kmm_test_scale >= 2) {
		argv[8] = "test.test_bytes";
		argv[9] = "test.test_set";
		argv[10] = "test.test_heapq";
		argv[11] = "test.test_collections";
	}
	/* Every Python object through malloc, not only the large ones. */
	const char *env[] = {"PYTHONMALLOC=malloc", "PYTHONHASHSEED=0", NULL};
	compare("python3 -m unittest", argv, env, true, normalize_unittest);
}

static void test_perl(void)
{
	if (!have("perl")) {
		printf("  perl is not installed: skipped\n");
		return;
	}
	const char *script =
	    "use strict; use Digest::MD5 qw(md5_hex);"
	    "my %h; for my $i (1 .. 200000) { $h{\"key$i\"} = join(',', map { $_ * $i } 1 .. 6); }"
	    "my $s = ''; for my $k (sort keys %h) { $s .= substr($h{$k}, 0, 9) . ';'; }"
	    "my %c; $c{$_}++ for split //, $s;"
	    "print length($s), \"\\n\", join(' ', map { \"$_=$c{$_}\" } sort keys %c), \"\\n\";"
	    "my @r = sort map { scalar reverse $_ } grep { /7.*3/ } keys %h; print scalar(@r), \" "
	    "$r[0] $r[-1]\\n\";"
	    "delete $h{$_} for grep { /3$/ } keys %h; print scalar(keys %h), \"\\n\";"
	    "my @parts = map { [split /,/] } values %h; my $sum = 0; $sum += $_->[5] for @parts;"
	    "print \"$sum \", md5_hex($s), \"\\n\";";
	char *argv[] = {"perl", "-e", (char *)script, NULL};
	compare("perl hash and string work", argv, NULL, true, NULL);
}

static void test_git(void)
{
	if (!have("git")) {
		printf("  git is not installed: skipped\n");
		return;
	}
	char dir[] = "/tmp/kmm-malloc-git-XXXXXX";
	expect_ptr_not_null(mkdtemp(dir));
	char script[2048];
	snprintf(script, sizeof(script),
		 "set -e; cd %s; rm -rf repo; git init -q -b main repo; cd repo;"
		 "i=0; while [ $i -lt 300 ]; do printf 'file %%d\\nline two %%d\\n' $i $((i*i)) "
		 "> f$i.txt; i=$((i+1)); done;"
		 "mkdir sub; seq 1 30000 > sub/numbers.txt;"
		 "git add -A; git commit -q -m first;"
		 "sed -i 's/two/three/' f1*.txt; seq 5 7 90000 >> sub/numbers.txt;"
		 "git add -A; git commit -q -m second;"
		 "git log --stat --format='%%H %%an %%s';"
		 "git gc -q; git fsck --no-progress; git count-objects -v | grep -v size",
		 dir);
	const char *env[] = {"HOME=/tmp",
			     "GIT_CONFIG_NOSYSTEM=1",
			     "GIT_AUTHOR_NAME=kmm",
			     "GIT_AUTHOR_EMAIL=kmm@example.org",
			     "GIT_AUTHOR_DATE=2024-01-01T00:00:00Z",
			     "GIT_COMMITTER_NAME=kmm",
			     "GIT_COMMITTER_EMAIL=kmm@example.org",
			     "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
			     NULL};
	char *argv[] = {"sh", "-c", script, NULL};
	compare("git init/add/commit/log/gc/fsck", argv, env, true, NULL);
	char rm[128];
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	expect_int_eq(system(rm), 0);
}

static void test_sqlite3(void)
{
	if (!have("sqlite3") && geteuid() == 0) {
		printf("  sqlite3 is missing: apt-get install sqlite3\n");
		if (system("apt-get install -y -q sqlite3 >/dev/null 2>&1"))
			printf("  apt-get install sqlite3 failed\n");
	}
	if (!have("sqlite3")) {
		printf("  sqlite3 is not installed (and could not be): skipped\n");
		return;
	}
	char dir[] = "/tmp/kmm-malloc-sqlite-XXXXXX";
	expect_ptr_not_null(mkdtemp(dir));
	char script[2048];
	snprintf(script, sizeof(script),
		 "set -e; rm -f %s/t.db; sqlite3 %s/t.db \""
		 "create table t(id integer primary key, name text, v real, blob text);"
		 "with recursive c(x) as (select 1 union all select x + 1 from c where x < 100000)"
		 " insert into t select x, 'name' || (x * 7919 %% 100000), x * 0.5,"
		 " printf('%%.*c', x %% 300, 'z') from c;"
		 "select count(*), sum(v), max(name), sum(length(blob)) from t;"
		 "create index tn on t(name);"
		 "select name, v from t where name between 'name5000' and 'name5004' order by name;"
		 "select substr(name, 1, 6), count(*) from t group by 1 order by 2 desc, 1 limit 4;"
		 "update t set blob = upper(blob) || name where id %% 3 = 0;"
		 "delete from t where v < 1000; vacuum;"
		 "select count(*), sum(length(blob)) from t;"
		 "pragma integrity_check;\"",
		 dir, dir);
	char *argv[] = {"sh", "-c", script, NULL};
	compare("sqlite3 100k rows", argv, NULL, true, NULL);
	char rm[128];
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	expect_int_eq(system(rm), 0);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (access(LIB, R_OK) || access(STRESS, X_OK)) {
		fprintf(stderr, "%s or %s is missing: build everything first\n", LIB, STRESS);
		return 1;
	}
	run_test(test_stress_threads);
	run_test(test_stress_fork);
	run_test(test_linked);
	run_test(test_enomem);
	run_test(test_misuse);
	run_test(test_stats);
	run_test(test_rss);
	run_test(test_python);
	run_test(test_perl);
	run_test(test_git);
	run_test(test_sqlite3);
	return kmm_test_done();
}
