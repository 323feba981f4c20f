/*
 * Every example in workloads/ parses and checks, as shipped; the ones this
 * version can run do run, on their own machine, to the end (each ends in
 * validate). An example that stops checking (the language changed under
 * it) fails here.
 */
#include "kmm_test.h"
#include "sim/workload.h"
#include <dirent.h>

static void test_examples(void)
{
	const char *dir = KMM_SOURCE_DIR "/workloads";
	DIR *d = opendir(dir);
	int parsed = 0, ran = 0;
	expect_ptr_not_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".kmm"))
			continue;
		char path[1024];
		struct kmm_error err = {0};
		struct kmm_workload *w;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		int ret = kmm_workload_load(path, &w, &err);
		if (!ret) {
			ret = kmm_workload_check(w, &err);
			if (ret)
				kmm_workload_free(w);
		}
		if (ret) {
			fprintf(stderr, "%s\n", err.msg);
			closedir(d);
			expect_int_eq(ret, 0);
		}
		parsed++;
		if (!kmm_workload_supported(w, &err)) {
			struct kmm_sim_result res;
			ret = kmm_workload_run(w, NULL, &res, &err);
			if (ret)
				fprintf(stderr, "%s\n", err.msg);
			check_u64_eq(ret, 0);
			printf("  %s: ran %llu operations\n", e->d_name,
			       (unsigned long long)res.ops);
			ran++;
		} else {
			printf("  %s: checked (%s)\n", e->d_name, err.msg);
		}
		kmm_workload_free(w);
	}
	closedir(d);
	expect_int_eq(parsed >= 5, 1);
	expect_int_eq(ran >= 2, 1);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_examples);
	return kmm_test_done();
}
