/* report.c: what every program of the harness shares: the check reporter (`ok - …`, `FAIL - …`,
 * `skip - …`), the crash report, the raw-bool witness and the final memory accounting against the
 * harness's memory manager `g_mem`.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

struct host_memory g_mem;

static int passed, failed, skipped;
static char context[256] = "loading";
static unsigned long bad_bools;
static char bad_bool_example[128];

/* ---- reporting ------------------------------------------------------------------------- */

bool check(bool ok, const char *name, const char *detail_fmt, ...)
{
    if (ok) {
        passed++;
        printf("ok - %s\n", name);
        return true;
    }
    failed++;
    char detail[1024];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    printf("FAIL - %s: %s\n", name, detail);
    return false;
}

void skip(const char *name, const char *reason_fmt, ...)
{
    skipped++;
    char reason[1024];
    va_list ap;
    va_start(ap, reason_fmt);
    vsnprintf(reason, sizeof reason, reason_fmt, ap);
    va_end(ap);
    printf("skip - %s: %s\n", name, reason);
}

const char *fmt(const char *format, ...)
{
    static char pool[16][512];
    static unsigned next;
    char *buf = pool[next++ % 16];
    va_list ap;
    va_start(ap, format);
    vsnprintf(buf, sizeof pool[0], format, ap);
    va_end(ap);
    return buf;
}

void set_context(const char *what)
{
    snprintf(context, sizeof context, "%s", what);
}

bool from_abi(abi_bool raw, const char *what)
{
    if (raw > 1) {
        if (!bad_bools++)
            snprintf(bad_bool_example, sizeof bad_bool_example, "%s returned %u", what, raw);
    }
    return raw != 0;
}

int summary(void)
{
    if (skipped)
        printf("# %d skipped (not counted as passed)\n", skipped);
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed == 0 && passed > 0 ? 0 : 1;
}

static void on_fatal_signal(int sig)
{
    /* The process is lost: report the step and the tally, then leave without unwinding. */
    printf("FAIL - the component crashed with signal %d (%s) during: %s\n", sig, strsignal(sig), context);
    failed++;
    summary();
    _exit(1);
}

void install_crash_report(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaction(signals[i], &sa, NULL);
}

void check_memory_and_abi(void)
{
    size_t live = host_memory_live(&g_mem);
    check(live == 0, "every block the component allocated was freed exactly once",
          "%zu block(s) outstanding of %lu allocated", live, g_mem.allocs);
    check(g_mem.double_frees == 0, "no double FreeMemory", "%lu double free(s)", g_mem.double_frees);
    check(g_mem.unknown_frees == 0, "no FreeMemory of a pointer the manager never allocated",
          "%lu unknown pointer(s) freed", g_mem.unknown_frees);
    check(g_mem.failed_allocs == 0, "no AllocMemory with a NULL out-pointer or 0 bytes",
          "%lu such call(s)", g_mem.failed_allocs);
    check(bad_bools == 0, "every bool the component returned is 0 or 1", "%lu bad, first: %s", bad_bools,
          bad_bool_example);
}

