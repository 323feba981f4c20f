/*
 * report.html in a real browser: a run with tasks, files, swap and slab
 * churn, and a kmm compare of two designs, each report opened in headless
 * Chromium (Debian's `chromium`). The page must load without a console
 * message (an error, an uncaught exception), draw every chart as SVG with
 * data in it (polylines with points, bars, memory-map cells), give every
 * chart a title, and a screenshot is saved beside the test binary
 * (report_html_test.png, report_html_compare.png) for a person to look at.
 *
 * Without chromium: installed with apt-get when running as root, else the
 * test is skipped with a message (exit 0).
 */
#include "e2e/e2e_util.h"
#include "kmm_test.h"
#include <kmm/kmm.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/kmm-report-html-XXXXXX";
static const char *browser;

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static const char *find_browser(void)
{
	static const char *const names[] = {"chromium", "chromium-browser", "google-chrome"};
	char cmd[200];
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < KMM_ARRAY_SIZE(names); i++) {
			snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", names[i]);
			if (!system(cmd))
				return names[i];
		}
		if (pass || geteuid())
			break;
		printf("chromium is missing: installing it with apt-get\n");
		fflush(stdout);
		/* A fresh machine may have no package lists yet: update and try again. */
		if (system(
			"export DEBIAN_FRONTEND=noninteractive; "
			"inst='timeout 900 apt-get install -y --no-install-recommends chromium'; "
			"{ $inst || { timeout 300 apt-get update && $inst; }; } >/dev/null 2>&1"))
			printf("apt-get install chromium failed\n");
	}
	return NULL;
}

/*
 * Load @html headless: its DOM after the scripts ran (into *dom) and the
 * browser's console lines about the page (into *console); a screenshot to
 * @png.
 */
static int open_page(const char *html, const char *png, char **dom, char **console)
{
	char log[400], flags[300];
	snprintf(log, sizeof(log), "%s/browser.log", tmpdir);
	/* Root in a container needs --no-sandbox; the profile goes to the test's directory. */
	snprintf(flags, sizeof(flags),
		 "--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=%s/profile",
		 tmpdir);
	struct result r = sh("timeout 120 %s %s --enable-logging=stderr --v=0 --dump-dom "
			     "'file://%s' 2>%s",
			     browser, flags, html, log);
	*dom = r.out;
	if (r.status)
		return r.status;
	struct result c = sh("grep -a ':CONSOLE' %s", log);
	*console = c.out;
	struct result s = sh("timeout 120 %s %s --window-size=1280,2000 --screenshot=%s "
			     "'file://%s' >/dev/null 2>&1",
			     browser, flags, png, html);
	free(s.out);
	return s.status;
}

static void check_report(const char *html, const char *png, int runs, int zones)
{
	char *dom = NULL, *console = NULL;
	expect_int_eq(open_page(html, png, &dom, &console), 0);
	if (!dom || !console) {
		free(dom);
		free(console);
		return;
	}
	expect_str_eq(console, "");
	/*
	 * Per run: a chart per zone, memory use, LRU, rates, two of swap,
	 * slab caches, the memory map; and the map's legend once.
	 */
	int svgs = count(dom, "<svg");
	printf("  %s: %d charts, %d lines, %d rects\n", html, svgs, count(dom, "<polyline"),
	       count(dom, "<rect"));
	expect_int_eq(svgs, runs * (zones + 7) + 1);
	expect_int_eq(count(dom, "<title>"), svgs + 1); /* and the page's */
	/* Lines: 4 per zone chart, 4 + 5 + 4 + 2 + 2 in the others. */
	expect_int_eq(count(dom, "<polyline"), runs * (4 * zones + 17));
	expect_int_eq(count(dom, "points=\"\""), 0);
	expect_true(count(dom, "class=\"cell\"") >= runs * zones);
	expect_true(count(dom, "class=\"bar\"") >= runs);
	expect_str_contains(dom, "pages (4 KiB)");
	expect_str_contains(dom, "events per snapshot interval");
	struct stat st;
	expect_int_eq(stat(png, &st), 0);
	expect_true(st.st_size > 10000);
	free(dom);
	free(console);
}

static const char workload[] = "machine --mem 128M --nodes 2 --cpus 2\n"
			       "swap sw size=16M\n"
			       "file data size=4M\n"
			       "spawn a cpu=0\n"
			       "spawn b cpu=1\n"
			       "kmem_cache_create dentry size=192\n"
			       "phase map\n"
			       "  a: mmap heap 16M\n"
			       "  a: touch heap write random count=3000\n"
			       "  b: mmap f 4M file=data shared\n"
			       "  b: touch f read zipf(0.9) count=800\n"
			       "end\n"
			       "phase churn\n"
			       "  repeat 6\n"
			       "    a: fork k\n"
			       "    k: touch heap[0..2M] write random count=200\n"
			       "    kmem_cache_alloc d cache=dentry count=500 cpu=1\n"
			       "    free d count=300 pick=random cpu=1\n"
			       "    k: exit\n"
			       "  end\n"
			       "end\n";

static void test_run_report(void)
{
	char wl[400], out[400], png[400];
	snprintf(wl, sizeof(wl), "%s/w.kmm", tmpdir);
	snprintf(out, sizeof(out), "%s/run", tmpdir);
	FILE *f = fopen(wl, "w");
	fputs(workload, f);
	fclose(f);
	struct result r = sh(KMM " run %s --out %s --snapshot-every 4 --quiet 2>&1", wl, out);
	expect_int_eq(r.status, 0);
	expect_str_eq(r.out, "");
	free(r.out);
	char html[500];
	snprintf(html, sizeof(html), "%s/report.html", out);
	snprintf(png, sizeof(png), "%s/report_html_test.png", KMM_BINARY_DIR);
	/* 2 nodes of 64M: DMA and DMA32 on node 0, DMA32 on node 1. */
	check_report(html, png, 1, 3);
}

static void test_compare_report(void)
{
	char wl[400], out[400], png[400], html[500];
	snprintf(wl, sizeof(wl), "%s/w.kmm", tmpdir);
	snprintf(out, sizeof(out), "%s/cmp", tmpdir);
	struct result r =
	    sh(KMM " compare %s --variant model=flat,sparse --out %s --quiet 2>&1", wl, out);
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "model=flat");
	free(r.out);
	snprintf(html, sizeof(html), "%s/report.html", out);
	snprintf(png, sizeof(png), "%s/report_html_compare.png", KMM_BINARY_DIR);
	check_report(html, png, 2, 3);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	browser = find_browser();
	if (!browser) {
		printf("SKIP: no chromium (install Debian's chromium, or run as root to let "
		       "the test install it)\n");
		return 0;
	}
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	run_test(test_run_report);
	run_test(test_compare_report);
	kmm_test_remove_dir(tmpdir);
	return kmm_test_done();
}
