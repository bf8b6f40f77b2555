/* bench.c: the add-in's figures (issue: the add-in benchmark), printed, never judged by exit code.
 *
 *   bench LIBRARY HOST PORT [CHECKS]
 *
 * 1. load to first call: dlopen .. GetClassObject .. Init .. RegisterExtensionAs .. first GetPropVal;
 * 2. CheckLicence through the exported interface (CallAsFunc), CHECKS times, next to a raw HTTP/1.1
 *    keep-alive round trip from C of the same check with the same connection and session IDs, but
 *    unsealed (C here cannot seal): the server refuses it at once (400), so the figure is the HTTP
 *    round trip alone, and the add-in's share includes the channel's sealing and opening;
 * 3. the extra time Connect takes when the first server refuses connections (reserved one answers);
 * 4. the time Connect takes when the first server never answers (its accept queue is full, so its
 *    SYNs go unanswered): bounded by the add-in's connect timeout;
 * 5. with BENCH_OBJECTS=DIR and LICENCE_SERIES_PUBLIC_KEY=HEX (scripts/bench-addin.sh packs them):
 *    OpenObject of a 1 MB object (DIR/big.datafile, object "Big", plaintext DIR/Big.bin) OPENS times
 *    (default 200), next to a 16-byte object of a small datafile (DIR/tiny.datafile, "Tiny": the
 *    server round trip and the fixed cost) and to the 1 MB datafile refused before any call (an
 *    unknown name: parsing and the signature check alone), so the local share shows.
 *
 *   bench LIBRARY HOST PORT [CHECKS [OPENS]]
 *
 * The server at HOST:PORT must hold a key of series 672B signed by LICENCE_SERIES_PUBLIC_KEY (the pin
 * every licence method needs). Shares the harness's platform side.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "utf16.h"

static GetClassObject_fn get_object;
static DestroyObject_fn destroy;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void stats(const char *label, double *ms, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += ms[i];
    qsort(ms, (size_t)n, sizeof *ms, by_value);
    printf("%-40s %7d %9.3f %9.3f %9.3f %9.3f\n", label, n, sum / n, ms[n / 2], ms[n * 99 / 100], ms[n - 1]);
}

static void new_object(struct object *o, const char *label)
{
    o->label = label;
    host_connection_init(&o->conn);
    WCHAR_T *name = u16_from_utf8(CLASS_NAME);
    get_object(name, &o->obj);
    free(name);
    if (!o->obj) {
        printf("GetClassObject failed\n");
        exit(1);
    }
    o->obj->init_done->Init(INIT_DONE(o), &o->conn);
    o->obj->init_done->setMemManager(INIT_DONE(o), &g_mem);
}

static void drop_object(struct object *o)
{
    o->obj->init_done->Done(INIT_DONE(o));
    destroy(&o->obj);
}

static void set_str(struct object *o, const char *prop, const char *value)
{
    tVariant v = variant_str(value);
    set_prop(o, find_prop(o, prop), &v);
    variant_free_input(&v);
}

static void point_at(struct object *o, const char *host, int port, const char *reserved)
{
    set_str(o, "KeyID", "672B");
    set_str(o, "ServerAddr", host);
    tVariant p = variant_i4(port);
    set_prop(o, find_prop(o, "ServerPort"), &p);
    set_str(o, "ReservedServers", reserved);
    const char *pin = getenv("LICENCE_SERIES_PUBLIC_KEY");
    if (pin && *pin)
        set_str(o, "SeriesPublicKey", pin);
}

static bool call(struct object *o, const char *method, tVariant *params, long count)
{
    return call_outcome(o, find_method(o, method), params, count).returned;
}

static int tcp_connect(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One HTTP/1.1 exchange on a kept-alive socket; the answer's body goes to body (NUL-terminated). */
static int exchange(int fd, const char *request, char *body, size_t cap)
{
    if (write(fd, request, strlen(request)) < 0)
        return -1;
    static char buf[65536];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = 0;
        char *head_end = strstr(buf, "\r\n\r\n");
        char *length = strcasestr(buf, "content-length:");
        if (head_end && length) {
            size_t want = (size_t)atol(length + 15);
            size_t have = got - (size_t)(head_end + 4 - buf);
            if (have >= want) {
                snprintf(body, cap, "%.*s", (int)want, head_end + 4);
                return atoi(buf + 9);
            }
        }
    }
}

/* The whole file DIR/NAME into *len bytes (malloc'd), NULL when unreadable. */
static unsigned char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    *len = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        rewind(f);
        data = size >= 0 ? malloc((size_t)size + 1) : NULL;
        if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
            free(data);
            data = NULL;
        }
        *len = data ? (size_t)size : 0;
    }
    if (f)
        fclose(f);
    return data;
}

/* One OpenObject(datafile, name), timed; *ok when it returned a BLOB of `want` bytes (SIZE_MAX: any). */
static double time_open(struct object *o, long method, tVariant *datafile, const char *name, size_t want, bool *ok)
{
    tVariant params[2] = {*datafile, variant_str(name)}, ret;
    double s = now_ms();
    struct outcome r = call_value(o, method, params, 2, &ret);
    double ms = now_ms() - s;
    *ok = r.returned && ret.vt == VTYPE_BLOB && (want == SIZE_MAX || ret.u.buf.len == want);
    variant_release(&ret);
    variant_free_input(&params[1]);
    return ms;
}

struct object_figures {
    int opens;
    double *big, *tiny, *refused;
    bool equal;
};

/* Section 5: OpenObject figures with the licence held; opens 0 when BENCH_OBJECTS is not set. */
static struct object_figures bench_objects(struct object *o, int opens)
{
    struct object_figures f = {0, NULL, NULL, NULL, false};
    const char *dir = getenv("BENCH_OBJECTS"), *pin = getenv("LICENCE_SERIES_PUBLIC_KEY");
    if (!dir || !*dir || !pin || !*pin)
        return f;
    size_t big_len, tiny_len, plain_len;
    unsigned char *big = slurp(dir, "big.datafile", &big_len), *tiny = slurp(dir, "tiny.datafile", &tiny_len);
    unsigned char *plain = slurp(dir, "Big.bin", &plain_len);
    long method = find_method(o, "OpenObject");
    if (!big || !tiny || !plain || method < 0) {
        printf("objects: %s lacks big.datafile, tiny.datafile or Big.bin, or the add-in lacks OpenObject\n", dir);
        exit(1);
    }
    set_str(o, "SeriesPublicKey", pin);
    tVariant big_v = variant_blob(big, big_len), tiny_v = variant_blob(tiny, tiny_len);

    /* The first open, compared byte for byte; then the timed ones. */
    tVariant params[2] = {big_v, variant_str("Big")}, ret;
    struct outcome r = call_value(o, method, params, 2, &ret);
    f.equal = r.returned && ret.vt == VTYPE_BLOB && ret.u.buf.len == plain_len &&
              memcmp(ret.u.buf.ptr, plain, plain_len) == 0;
    variant_release(&ret);
    variant_free_input(&params[1]);
    if (!f.equal) {
        printf("objects: OpenObject(\"Big\") did not give Big.bin back (%s)\n", r.descr);
        exit(1);
    }
    f.opens = opens;
    f.big = calloc((size_t)opens, sizeof(double));
    f.tiny = calloc((size_t)opens, sizeof(double));
    f.refused = calloc((size_t)opens, sizeof(double));
    for (int i = 0; i < opens; i++) {
        bool ok_big, ok_tiny, opened_unknown;
        f.big[i] = time_open(o, method, &big_v, "Big", plain_len, &ok_big);
        f.tiny[i] = time_open(o, method, &tiny_v, "Tiny", 16, &ok_tiny);
        f.refused[i] = time_open(o, method, &big_v, "NoSuchObject", SIZE_MAX, &opened_unknown);
        if (!ok_big || !ok_tiny || opened_unknown) {
            printf("objects: open %d went wrong (big %d, tiny %d, unknown opened %d)\n", i, ok_big, ok_tiny,
                   opened_unknown);
            exit(1);
        }
    }
    variant_free_input(&big_v);
    variant_free_input(&tiny_v);
    free(big);
    free(tiny);
    free(plain);
    return f;
}

/* The value at quantile q of n sorted figures. */
static double quantile(double *sorted, int n, double q)
{
    return sorted[(int)(q * (n - 1) + 0.5)];
}

/* The first `"key":"value"` after `after` in a compact JSON text. */
static void json_field(const char *json, const char *key, char *out, size_t cap)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr(json, pattern);
    out[0] = 0;
    if (at)
        snprintf(out, cap, "%.*s", (int)strcspn(at + strlen(pattern), "\""), at + strlen(pattern));
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench LIBRARY HOST PORT [CHECKS [OPENS]]\n");
        return 2;
    }
    const char *host = argv[2];
    int port = atoi(argv[3]), checks = argc > 4 ? atoi(argv[4]) : 2000, opens = argc > 5 ? atoi(argv[5]) : 200;
    if (checks < 10 || checks > 100000)
        checks = 2000;
    if (opens < 10 || opens > 100000)
        opens = 200;
    host_memory_init(&g_mem);

    double t0 = now_ms();
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    get_object = (GetClassObject_fn)dlsym(lib, "GetClassObject");
    destroy = (DestroyObject_fn)dlsym(lib, "DestroyObject");
    struct object lic;
    new_object(&lic, "bench");
    WCHAR_T *ext = NULL;
    LX(&lic)->RegisterExtensionAs(LANG_EXT(&lic), &ext);
    if (ext)
        host_free(&g_mem, ext);
    char version[64];
    get_prop_string(&lic, find_prop(&lic, "Version"), version, sizeof version);
    double load_ms = now_ms() - t0;

    point_at(&lic, host, port, "");
    tVariant params[7];
    time_t now = time(NULL);
    params[0] = variant_i4(1);
    params[1] = variant_str("Srvr=\"bench\";Ref=\"bench\";");
    params[2] = variant_str("1CV8C");
    params[3] = variant_str("BENCH");
    params[4] = variant_str("bench");
    params[5] = variant_empty();
    params[5].vt = VTYPE_TM;
    gmtime_r(&now, &params[5].u.tm);
    params[6] = variant_empty();
    if (!call(&lic, "Connect", NULL, 0) || !call(&lic, "ObtainLicence", params, 7)) {
        printf("Connect/ObtainLicence failed: is a server with a key of series 672B at %s:%d?\n", host, port);
        return 1;
    }
    for (int i = 0; i < 7; i++)
        variant_free_input(&params[i]);

    double *through = calloc((size_t)checks, sizeof(double)), *raw = calloc((size_t)checks, sizeof(double));
    long check = find_method(&lic, "CheckLicence");
    for (int i = 0; i < checks; i++) {
        double s = now_ms();
        bool ok = call_outcome(&lic, check, NULL, 0).returned;
        through[i] = now_ms() - s;
        if (!ok) {
            printf("CheckLicence failed at %d\n", i);
            return 1;
        }
    }

    /* The same check, raw: the session's IDs from the administrator's API. */
    int fd = tcp_connect(host, port);
    char body[65536], request[1024], session[64], connection[64];
    snprintf(request, sizeof request,
             "GET /api/sessions?ComputerName=BENCH HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n", host);
    exchange(fd, request, body, sizeof body);
    json_field(body, "ID", session, sizeof session);
    json_field(body, "SessionConnection", connection, sizeof connection);
    char payload[256];
    snprintf(payload, sizeof payload, "{\"ConnectionID\":\"%s\",\"SessionID\":\"%s\"}", connection, session);
    snprintf(request, sizeof request,
             "POST /licence/check HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             host, strlen(payload), payload);
    for (int i = 0; i < checks; i++) {
        double s = now_ms();
        int status = exchange(fd, request, body, sizeof body);
        raw[i] = now_ms() - s;
        if (status != 400) {
            printf("raw unsealed check answered %d (the server refuses an unsealed call with 400): %s\n", status,
                   body);
            return 1;
        }
    }
    close(fd);
    struct object_figures objects = bench_objects(&lic, opens);
    call(&lic, "ReleaseLicence", NULL, 0);
    drop_object(&lic);

    /* Failover when the first server refuses connections: a port nobody listens on. */
    int closed = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t len = sizeof a;
    bind(closed, (struct sockaddr *)&a, sizeof a);
    getsockname(closed, (struct sockaddr *)&a, &len);
    int refusing_port = ntohs(a.sin_port);
    close(closed);
    char reserved[64];
    snprintf(reserved, sizeof reserved, "%s:%d", host, port);
    double direct[20], via_refusal[20];
    for (int i = 0; i < 20; i++) {
        struct object d, r;
        new_object(&d, "direct");
        point_at(&d, host, port, "");
        double s = now_ms();
        call(&d, "Connect", NULL, 0);
        direct[i] = now_ms() - s;
        drop_object(&d);
        new_object(&r, "failover");
        point_at(&r, "127.0.0.1", refusing_port, reserved);
        s = now_ms();
        bool ok = call(&r, "Connect", NULL, 0);
        via_refusal[i] = now_ms() - s;
        drop_object(&r);
        if (!ok) {
            printf("failover to %s did not connect\n", reserved);
            return 1;
        }
    }

    /* Failover when the first server never answers: its accept queue is full, SYNs go unanswered. */
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    len = sizeof sa;
    bind(silent, (struct sockaddr *)&sa, sizeof sa);
    listen(silent, 0);
    getsockname(silent, (struct sockaddr *)&sa, &len);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&sa, sizeof sa);
    }
    usleep(100000);
    struct object q;
    new_object(&q, "silent");
    point_at(&q, "127.0.0.1", ntohs(sa.sin_port), reserved);
    double s = now_ms();
    bool silent_ok = call(&q, "Connect", NULL, 0);
    double silent_ms = now_ms() - s;
    drop_object(&q);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(silent);

    printf("\nlicence add-in %s, loopback, one client\n", version);
    printf("%-40s %7s %9s %9s %9s %9s\n", "measure (ms)", "n", "mean", "p50", "p99", "max");
    stats("CheckLicence through the add-in", through, checks);
    stats("the same check unsealed, raw HTTP keep-alive (refused)", raw, checks);
    stats("Connect, server answers", direct, 20);
    stats("Connect, first server refuses", via_refusal, 20);
    double ratio = through[checks / 2] / raw[checks / 2];
    double extra = via_refusal[10] - direct[10];
    if (objects.opens) {
        stats("OpenObject, 1 MB object", objects.big, objects.opens);
        stats("OpenObject, 16 B object, small datafile", objects.tiny, objects.opens);
        stats("1 MB datafile refused before any call", objects.refused, objects.opens);
    }
    printf("\nload to first call: %.2f ms (dlopen .. GetPropVal(Version))\n", load_ms);
    if (objects.opens) {
        int n = objects.opens;
        double big50 = quantile(objects.big, n, 0.5), big95 = quantile(objects.big, n, 0.95);
        double trip = quantile(objects.tiny, n, 0.5), check_only = quantile(objects.refused, n, 0.5);
        double local = big50 > trip ? big50 - trip : 0;
        printf("OpenObject of a 1 MB object (%d opens, plaintext checked equal): p50 %.2f ms, p95 %.2f ms\n", n, big50,
               big95);
        printf("  of its p50: the server round trip and fixed cost %.2f ms (%.0f%%, a 16-byte object), local work on "
               "1 MB %.2f ms (%.0f%%), of which parsing and the signature check %.2f ms\n",
               trip, 100 * trip / big50, local, 100 * local / big50, check_only);
    }
    printf("add-in / raw HTTP, p50: %.2f (target <= 1.5)  %s\n", ratio, ratio <= 1.5 ? "PASS" : "MISS");
    printf("failover, refused connection: +%.2f ms at p50 (target < 50 ms)  %s\n", extra, extra < 50 ? "PASS" : "MISS");
    printf("failover, no answer at all: Connect took %.0f ms, %s (bounded by the connect timeout, 2 s by default)  %s\n",
           silent_ms, silent_ok ? "then the reserved server" : "and failed", silent_ms < 2600 && silent_ok ? "PASS" : "MISS");
    return 0;
}
