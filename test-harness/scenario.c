/* scenario.c: the licence scenario against REAL licence servers, driven through the add-in object as
 * a 1C configuration drives it.
 *
 * Runs only when the environment names the servers (run.sh starts them):
 *   LICENCE_SERVER=127.0.0.1:PORT        the primary server, holding a key of series 672B
 *   LICENCE_RESERVED=127.0.0.1:PORT2     a reserved server with the same key (optional)
 *   LICENCE_PRIMARY_PID=N                the primary's pid: killed (SIGKILL) to force a failover
 *   LICENCE_COUNT=5, LICENCE_FLAGS=5     what the key was issued with
 *   LICENCE_FAILOVER_SECONDS=10          how long the failover may take (valgrind is slower)
 * Connect, ObtainLicence (Cyrillic user name, a Дата as VTYPE_TM, AccessCode omitted), KeyParameter,
 * HasFlag, CheckLicence; the session seen in the server's /api/sessions; the primary killed and the
 * licence kept on the reserved server with a "ServerChanged" ExternalEvent; ReleaseLicence. A second
 * object aimed at a port where nothing listens must fail with LastErrorCode 1 and an AddError; the same
 * object then meets a server of another major version (LICENCE_OTHER_SERVER) and a licenceaddin.conf
 * written into $HOME.
 * If the add-in lacks the licence methods, every check here is a `skip`, never a pass.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "scenario.h"
#include "utf16.h"

#define USER_NAME "Администратор"
#define SERIES "672B"
#define POLL_MS 200

/* The names the scenario needs; missing ones turn the scenario into skips. */
static const char *needed_props[] = {"ReservedServers", "IsServer", "ServerInUse", "LicenceHeld"};
static const char *needed_methods[] = {"Connect",      "ObtainLicence", "CheckLicence", "ReleaseLicence",
                                       "KeyParameter", "HasFlag"};

bool parse_endpoint(const char *text, struct endpoint *e)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof e->host)
        return false;
    memcpy(e->host, text, (size_t)(colon - text));
    e->host[colon - text] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return false;
    e->port = (int)port;
    snprintf(e->text, sizeof e->text, "%s:%d", e->host, e->port);
    return true;
}

long env_number(const char *name, long fallback)
{
    const char *v = getenv(name);
    char *end;
    long n = v && *v ? strtol(v, &end, 10) : fallback;
    return v && *v && *end ? fallback : n;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a minimal HTTP GET on 127.0.0.1, to read what the server shows ----------------------- */

/* GET path with admin:admin; the response (headers and body) goes into buf. False when no answer. */
static bool http_get(const struct endpoint *e, const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct timeval timeout = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e->port)};
    bool ok = inet_pton(AF_INET, e->host, &addr.sin_addr) == 1 &&
              connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    if (ok) {
        char request[512];
        int n = snprintf(request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n"
                         "Connection: close\r\n\r\n",
                         path, e->text);
        ok = send(fd, request, (size_t)n, MSG_NOSIGNAL) == n;
    }
    size_t used = 0;
    for (int reads = 0; ok && used + 1 < cap && reads < 1000; reads++) {
        ssize_t got = recv(fd, buf + used, cap - 1 - used, 0);
        if (got <= 0)
            break;
        used += (size_t)got;
    }
    buf[used] = 0;
    close(fd);
    return ok && strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

/* Whether the server's /api/sessions lists a session of USER_NAME ("" when it answered, else why not). */
static const char *sessions_show_user(const struct endpoint *e, bool *shown)
{
    static char response[65536];
    *shown = false;
    if (!http_get(e, "/api/sessions", response, sizeof response))
        return fmt("GET /api/sessions on %s: %.60s", e->text, *response ? response : "no answer");
    *shown = strstr(response, USER_NAME) != NULL;
    return "";
}

/* Whether the server's /api/connections answer contains `needle` ("" when it answered, else why not). */
static const char *connections_contain(const struct endpoint *e, const char *needle, bool *found)
{
    static char response[65536];
    *found = false;
    if (!http_get(e, "/api/connections", response, sizeof response))
        return fmt("GET /api/connections on %s: %.60s", e->text, *response ? response : "no answer");
    *found = strstr(response, needle) != NULL;
    return "";
}

/* A loopback port where nothing listens (bound, then closed); 1 if none could be had. */
int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- calling the object by name ----------------------------------------------------------- */

const char *outcome_text(const struct outcome *r)
{
    return fmt("returned %d, AddError %s (wcode %u, scode %ld, \"%s\")%s%s", r->returned, r->reported ? "yes" : "no",
               r->wcode, r->scode, r->descr, *r->ret_problem ? ", ill-formed result: " : "", r->ret_problem);
}

bool set_string(struct object *o, const char *prop, const char *value)
{
    tVariant v = variant_str(value);
    bool ok = set_prop(o, find_prop(o, prop), &v);
    variant_free_input(&v);
    return ok;
}

bool set_number(struct object *o, const char *prop, int value)
{
    tVariant v = variant_i4(value);
    return set_prop(o, find_prop(o, prop), &v);
}

const char *read_string(struct object *o, const char *prop)
{
    static char pool[4][512];
    static unsigned next;
    char *buf = pool[next++ % 4];
    if (!get_prop_string(o, find_prop(o, prop), buf, sizeof pool[0]))
        return fmt("(unreadable: %s)", buf);
    return buf;
}

/* A Boolean property: 1 true, 0 false, -1 when not a well-formed BOOL. */
int read_bool(struct object *o, const char *prop)
{
    tVariant v;
    int result = -1;
    if (get_prop(o, find_prop(o, prop), &v) && v.vt == VTYPE_BOOL && v.u.b <= 1)
        result = v.u.b;
    variant_release(&v);
    return result;
}

double read_number(struct object *o, const char *prop)
{
    double value = NAN;
    if (!get_prop_number(o, find_prop(o, prop), &value))
        return NAN;
    return value;
}

/* Calls a function of the object by name; its BOOL result is in *result (-1 when not a BOOL). */
struct outcome call_bool(struct object *o, const char *method, tVariant *params, long count, int *result)
{
    tVariant ret;
    struct outcome r = call_value(o, find_method(o, method), params, count, &ret);
    *result = ret.vt == VTYPE_BOOL && ret.u.b <= 1 ? ret.u.b : -1;
    variant_release(&ret);
    return r;
}

bool succeeded(const struct outcome *r, int result)
{
    return r->returned && !r->reported && result == 1 && !*r->ret_problem;
}

/* KeyParameter(name): the value rendered into buf; the outcome says whether it was refused. */
static struct outcome key_parameter(struct object *o, const char *name, tVariant *value)
{
    tVariant param = variant_str(name);
    struct outcome r = call_value(o, find_method(o, "KeyParameter"), &param, 1, value);
    variant_free_input(&param);
    return r;
}

static void check_key_parameters(struct object *o)
{
    long count = env_number("LICENCE_COUNT", 5), flags = env_number("LICENCE_FLAGS", 5);
    struct {
        const char *name;
        double expect; /* NAN: any number */
        double at_least;
    } numbers[] = {
        {"КоличествоЛицензий", (double)count, 0}, {"licencecount", (double)count, 0},
        {"ИспользуетсяЛицензий", NAN, 1},          {"Flags", (double)flags, 0},
        {"KeyType", NAN, 0},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        set_context(fmt("KeyParameter(\"%s\")", numbers[i].name));
        tVariant v;
        struct outcome r = key_parameter(o, numbers[i].name, &v);
        double got = NAN;
        bool number = variant_number(&v, &got);
        char shown[256];
        variant_show(&v, shown, sizeof shown);
        variant_release(&v);
        bool ok = r.returned && !r.reported && number &&
                  (isnan(numbers[i].expect) ? got >= numbers[i].at_least : got == numbers[i].expect);
        const char *want = isnan(numbers[i].expect) ? fmt("a number >= %g", numbers[i].at_least)
                                                    : fmt("%g", numbers[i].expect);
        check(ok, fmt("scenario: KeyParameter(\"%s\") is %s", numbers[i].name, want), "%s, value %s",
              outcome_text(&r), shown);
    }

    set_context("KeyParameter(\"Продукт\")");
    tVariant v;
    struct outcome r = key_parameter(o, "Продукт", &v);
    char shown[256];
    variant_show(&v, shown, sizeof shown);
    bool is_string = v.vt == VTYPE_PWSTR;
    variant_release(&v);
    check(r.returned && !r.reported && is_string && !*r.ret_problem,
          "scenario: KeyParameter(\"Продукт\") is a string", "%s, value %s", outcome_text(&r), shown);

    set_context("KeyParameter(\"NoSuchParameter\")");
    r = key_parameter(o, "NoSuchParameter", &v);
    variant_release(&v);
    double code = read_number(o, "LastErrorCode");
    check(!*refusal_problem(&r) && code == 5,
          "scenario: KeyParameter(\"NoSuchParameter\") is refused with an AddError and LastErrorCode 5 (BadRequest)",
          "%s, LastErrorCode %g", outcome_text(&r), code);

    for (int flag = 0; flag < 4; flag++) {
        set_context(fmt("HasFlag(%d)", flag));
        tVariant param = variant_i4(flag);
        int result;
        r = call_bool(o, "HasFlag", &param, 1, &result);
        int want = (int)((flags >> flag) & 1);
        check(r.returned && !r.reported && result == want,
              fmt("scenario: HasFlag(%d) is %s (the key's flags are %ld)", flag, want ? "true" : "false", flags),
              "%s, result %d", outcome_text(&r), result);
    }
}

struct outcome obtain(struct object *o, int *result)
{
    time_t now = time(NULL);
    tVariant params[7];
    params[0] = variant_i4(1);
    params[1] = variant_str("File=\"/srv/1c/demo\";");
    params[2] = variant_str("1CV8C");
    params[3] = variant_str("harness-computer");
    params[4] = variant_str(USER_NAME);
    params[5] = variant_empty();
    params[5].vt = VTYPE_TM;
    gmtime_r(&now, &params[5].u.tm);
    params[6] = variant_empty(); /* AccessCode omitted, as 1C passes it */
    struct outcome r = call_bool(o, "ObtainLicence", params, 7, result);
    for (int i = 0; i < 7; i++)
        variant_free_input(&params[i]);
    return r;
}

/* Kills the primary and waits (bounded) until the object holds its licence on the reserved server. */
static void check_failover(struct object *o, const struct endpoint *reserved, long primary_pid)
{
    long seconds = env_number("LICENCE_FAILOVER_SECONDS", 10);
    set_context("killing the primary server");
    bool killed = kill((pid_t)primary_pid, SIGKILL) == 0;
    check(killed, fmt("scenario: the primary server (pid %ld) is killed with SIGKILL", primary_pid), "kill failed");
    if (!killed)
        return;
    double start = now_seconds();
    const char *in_use = "";
    int confirmed = -1;
    set_context("waiting for the failover");
    for (long polls = 0; polls < seconds * 1000 / POLL_MS && now_seconds() - start < (double)seconds; polls++) {
        sleep_ms(POLL_MS);
        in_use = read_string(o, "ServerInUse");
        if (strcmp(in_use, reserved->text) != 0)
            continue;
        call_bool(o, "CheckLicence", NULL, 0, &confirmed);
        if (confirmed == 1 && host_saw_event(&o->conn, "Licence", "ServerChanged", NULL, 0))
            break;
    }
    double took = now_seconds() - start;
    check(strcmp(in_use, reserved->text) == 0,
          fmt("scenario: within %lds of the kill ServerInUse is the reserved server %s", seconds, reserved->text),
          "ServerInUse \"%s\" after %.1fs", in_use, took);
    check(confirmed == 1, "scenario: CheckLicence is true on the reserved server", "last result %d after %.1fs",
          confirmed, took);
    char data[HOST_TEXT];
    bool event = host_saw_event(&o->conn, "Licence", "ServerChanged", data, sizeof data);
    check(event && strcmp(data, reserved->text) == 0,
          fmt("scenario: ExternalEvent(\"Licence\", \"ServerChanged\", \"%s\") was raised", reserved->text),
          event ? "data \"%s\"" : "no such event (last event \"%s\")", event ? data : o->conn.last_event);
    check(!host_saw_event(&o->conn, "Licence", "LicenceLost", data, sizeof data),
          "scenario: no \"LicenceLost\" event during the failover", "LicenceLost: %s", data);
    check(read_bool(o, "LicenceHeld") == 1, "scenario: LicenceHeld stays true after the failover", "reads %d",
          read_bool(o, "LicenceHeld"));
    bool shown;
    const char *problem = sessions_show_user(reserved, &shown);
    check(!*problem && shown,
          fmt("scenario: the reserved server's /api/sessions shows the session of %s", USER_NAME), "%s",
          *problem ? problem : "not listed");
}

bool set_pin(struct object *o)
{
    const char *pin = getenv("LICENCE_SERIES_PUBLIC_KEY");
    return pin && strlen(pin) == 64 && set_string(o, "SeriesPublicKey", pin);
}

static void check_unreachable(struct object *u)
{
    int port = dead_port();
    set_context("Connect to a port where nothing listens");
    bool set = set_string(u, "KeyID", SERIES) && set_string(u, "ServerAddr", "127.0.0.1") &&
               set_number(u, "ServerPort", port) && set_pin(u);
    int result;
    struct outcome r = call_bool(u, "Connect", NULL, 0, &result);
    double code = read_number(u, "LastErrorCode");
    check(set && !*refusal_problem(&r) && code == 1,
          fmt("unreachable: Connect to 127.0.0.1:%d returns false, AddError, LastErrorCode 1 (ServerUnreachable)",
              port),
          "settings %d; %s, LastErrorCode %g", set, outcome_text(&r), code);
    const char *text = read_string(u, "LastError");
    check(*text, "unreachable: LastError describes the failure", "reads \"%s\"", text);
    check(strcmp(read_string(u, "ServerInUse"), "") == 0, "unreachable: ServerInUse stays \"\"", "reads \"%s\"",
          read_string(u, "ServerInUse"));
    set_context("ObtainLicence with no reachable server");
    r = obtain(u, &result);
    code = read_number(u, "LastErrorCode");
    check(!*refusal_problem(&r) && code == 1,
          "unreachable: ObtainLicence (connecting first) returns false, AddError, LastErrorCode 1",
          "%s, LastErrorCode %g", outcome_text(&r), code);
    check(read_bool(u, "LicenceHeld") == 0, "unreachable: LicenceHeld is false", "reads %d",
          read_bool(u, "LicenceHeld"));
}

/* A server of another major version (run.sh starts one with LICENCESERVER_TEST_VERSION): alone it is
 * refused with VersionMismatch naming both versions; with a reserved server of ours, the add-in passes
 * over it and connects there. Uses the object the unreachable checks left unconnected. */
static void check_other_major(struct object *u, const struct endpoint *other, const struct endpoint *reserved)
{
    set_context("Connect to a server of another major version");
    bool set = set_string(u, "ServerAddr", other->host) && set_number(u, "ServerPort", other->port) &&
               set_string(u, "ReservedServers", "");
    int result;
    struct outcome r = call_bool(u, "Connect", NULL, 0, &result);
    double code = read_number(u, "LastErrorCode");
    check(set && !*refusal_problem(&r) && code == 3,
          fmt("other version: Connect to %s returns false, AddError, LastErrorCode 3 (VersionMismatch)", other->text),
          "settings %d; %s, LastErrorCode %g", set, outcome_text(&r), code);
    const char *text = read_string(u, "LastError");
    check(strstr(text, "4.0.0.0") && strstr(text, "3.0."), "other version: LastError names both versions",
          "reads \"%s\"", text);
    check(strcmp(read_string(u, "ServerInUse"), "") == 0, "other version: ServerInUse stays \"\"", "reads \"%s\"",
          read_string(u, "ServerInUse"));
    if (!reserved) {
        skip("other version: passed over for a reserved server", "LICENCE_RESERVED is not set");
        return;
    }
    set_context("Connect with a server of another major version first and a reserved one");
    set = set_string(u, "ReservedServers", reserved->text);
    r = call_bool(u, "Connect", NULL, 0, &result);
    check(set && succeeded(&r, result),
          fmt("other version: with ReservedServers \"%s\" Connect returns true", reserved->text), "%s, result %d",
          outcome_text(&r), result);
    check(strcmp(read_string(u, "ServerInUse"), reserved->text) == 0,
          fmt("other version: ServerInUse is the reserved server %s", reserved->text), "reads \"%s\"",
          read_string(u, "ServerInUse"));
}

/* Writes (text) or removes (NULL) the OS user's licenceaddin.conf under $HOME (run.sh's scratch HOME). */
static bool user_conf(const char *text)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return false;
    char path[512];
    const char *parts[] = {"/.1C", "/licence", "/3.0"};
    snprintf(path, sizeof path, "%s", home);
    for (size_t i = 0; i < 3; i++) {
        strncat(path, parts[i], sizeof path - strlen(path) - 1);
        mkdir(path, 0700);
    }
    strncat(path, "/licenceaddin.conf", sizeof path - strlen(path) - 1);
    if (!text)
        return unlink(path) == 0;
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static bool set_bool(struct object *o, const char *prop, bool value)
{
    tVariant v = variant_empty();
    v.vt = VTYPE_BOOL;
    v.u.b = value;
    return set_prop(o, find_prop(o, prop), &v);
}

/* licenceaddin.conf through the add-in: the user's file with ForceUseConfig=1 overrides the code's
 * server (a per-series section winning over [Common]), a broken line spoils only itself, and a
 * server process reads only the common file, so the user's file does not move it. */
static void check_config_file(struct object *u, const struct endpoint *good)
{
    int dead = dead_port(), result;
    char text[512];
    snprintf(text, sizeof text,
             "; written by the harness\n[Common]\nForceUseConfig=1\nServerAddr=127.0.0.1\nServerPort=%d\n"
             "[" SERIES "]\nServerAddr=%s\nServerPort=%d\n",
             dead, good->host, good->port);
    set_context("licenceaddin.conf with ForceUseConfig=1 in the user's folder");
    bool written = user_conf(text);
    bool set = set_string(u, "ServerAddr", "127.0.0.1") && set_number(u, "ServerPort", dead) &&
               set_string(u, "ReservedServers", "");
    struct outcome r = call_bool(u, "Connect", NULL, 0, &result);
    check(written && set && succeeded(&r, result) && strcmp(read_string(u, "ServerInUse"), good->text) == 0,
          fmt("licenceaddin.conf: ForceUseConfig=1 and [%s] override the code's dead port; ServerInUse is %s",
              SERIES, good->text),
          "written %d, settings %d; %s, ServerInUse \"%s\"", written, set, outcome_text(&r),
          read_string(u, "ServerInUse"));

    set_context("licenceaddin.conf with broken lines");
    snprintf(text, sizeof text,
             "this line is not INI\n[Common\nServerPort=not-a-port\n[" SERIES "]\nForceUseConfig=1\n"
             "ServerAddr=%s\nServerPort=%d\nReservedServers=host:70000\nColour=blue\n",
             good->host, good->port);
    written = user_conf(text);
    set = set_number(u, "ServerPort", dead); /* a changed setting drops the idle connection */
    r = call_bool(u, "Connect", NULL, 0, &result);
    check(written && set && succeeded(&r, result) && strcmp(read_string(u, "ServerInUse"), good->text) == 0,
          "licenceaddin.conf: broken lines are ignored one by one, the good ones still apply",
          "written %d, settings %d; %s, ServerInUse \"%s\"", written, set, outcome_text(&r),
          read_string(u, "ServerInUse"));

    set_context("licenceaddin.conf in the user's folder, IsServer true");
    set = set_bool(u, "IsServer", true) && set_number(u, "ServerPort", dead);
    r = call_bool(u, "Connect", NULL, 0, &result);
    double code = read_number(u, "LastErrorCode");
    check(set && !*refusal_problem(&r) && code == 1,
          "licenceaddin.conf: a server process ignores the user's file (Connect to the code's dead port fails, "
          "LastErrorCode 1)",
          "settings %d; %s, LastErrorCode %g", set, outcome_text(&r), code);
    set_bool(u, "IsServer", false);
    check(user_conf(NULL), "licenceaddin.conf: the harness removes its file", "unlink failed");
}

static bool has_everything(struct object *o, char *missing, size_t cap)
{
    missing[0] = 0;
    for (size_t i = 0; i < sizeof needed_props / sizeof needed_props[0]; i++)
        if (find_prop(o, needed_props[i]) < 0)
            snprintf(missing + strlen(missing), cap - strlen(missing), " %s", needed_props[i]);
    for (size_t i = 0; i < sizeof needed_methods / sizeof needed_methods[0]; i++)
        if (find_method(o, needed_methods[i]) < 0)
            snprintf(missing + strlen(missing), cap - strlen(missing), " %s()", needed_methods[i]);
    return !*missing;
}

static void run_held_part(struct object *o, const struct endpoint *primary_ep, const struct endpoint *reserved_ep)
{
    struct endpoint primary = *primary_ep, reserved;
    bool with_reserved = reserved_ep != NULL;
    if (with_reserved)
        reserved = *reserved_ep;
    else
        memset(&reserved, 0, sizeof reserved);
    set_context("scenario settings");
    bool set = set_string(o, "KeyID", SERIES) && set_string(o, "ServerAddr", primary.host) &&
               set_number(o, "ServerPort", primary.port) &&
               set_string(o, "ReservedServers", with_reserved ? reserved.text : "");
    check(set, fmt("scenario: KeyID \"%s\", ServerAddr, ServerPort, ReservedServers \"%s\" are accepted", SERIES,
                   with_reserved ? reserved.text : ""),
          "a set returned false (LastError \"%s\")", read_string(o, "LastError"));
    check(read_bool(o, "IsServer") == 0, "scenario: IsServer is false by default", "reads %d", read_bool(o, "IsServer"));

    /* No pin, no licence: nothing is sent to the server without SeriesPublicKey. */
    set_context("ObtainLicence without SeriesPublicKey");
    int unpinned;
    struct outcome nopin = obtain(o, &unpinned);
    double nopin_code = read_number(o, "LastErrorCode");
    const char *nopin_text = read_string(o, "LastError");
    check(!*refusal_problem(&nopin) && nopin_code == 16 && strstr(nopin_text, "SeriesPublicKey"),
          "no pin: ObtainLicence without SeriesPublicKey returns false, AddError, LastErrorCode 16 (SeriesKeyNotPinned)",
          "%s, LastErrorCode %g (\"%s\")", outcome_text(&nopin), nopin_code, nopin_text);
    check(strcmp(read_string(o, "ServerInUse"), "") == 0, "no pin: ServerInUse stays \"\" (no server was asked)",
          "reads \"%s\"", read_string(o, "ServerInUse"));
    check(set_pin(o), "scenario: SeriesPublicKey (LICENCE_SERIES_PUBLIC_KEY) is accepted", "LastError \"%s\"",
          read_string(o, "LastError"));
    check(strcmp(read_string(o, "ServerInUse"), "") == 0 && read_bool(o, "LicenceHeld") == 0,
          "scenario: before Connect ServerInUse is \"\" and LicenceHeld false", "ServerInUse \"%s\", LicenceHeld %d",
          read_string(o, "ServerInUse"), read_bool(o, "LicenceHeld"));

    set_context("Connect");
    int result;
    struct outcome r = call_bool(o, "Connect", NULL, 0, &result);
    if (!check(succeeded(&r, result), fmt("scenario: Connect() to %s returns true", primary.text), "%s, result %d",
               outcome_text(&r), result))
        return;
    check(strcmp(read_string(o, "ServerInUse"), primary.text) == 0,
          fmt("scenario: ServerInUse is the primary %s", primary.text), "reads \"%s\"", read_string(o, "ServerInUse"));
    bool shown;
    const char *problem = connections_contain(&primary, "\"PlatformVersion\":\"8.3.25.1257\"", &shown);
    check(!*problem && shown,
          "scenario: the primary's /api/connections shows PlatformVersion 8.3.25.1257 (the host's IPlatformInfo)", "%s",
          *problem ? problem : "not shown");

    set_context("ObtainLicence");
    r = obtain(o, &result);
    if (!check(succeeded(&r, result),
               "scenario: ObtainLicence(1, connection string, \"1CV8C\", computer, \"" USER_NAME
               "\", Дата as VTYPE_TM, AccessCode EMPTY) returns true",
               "%s, result %d", outcome_text(&r), result))
        return;
    check(read_bool(o, "LicenceHeld") == 1, "scenario: LicenceHeld is true", "reads %d", read_bool(o, "LicenceHeld"));
    check_key_parameters(o);

    set_context("CheckLicence");
    r = call_bool(o, "CheckLicence", NULL, 0, &result);
    check(succeeded(&r, result), "scenario: CheckLicence() returns true", "%s, result %d", outcome_text(&r), result);
    problem = sessions_show_user(&primary, &shown);
    check(!*problem && shown, fmt("scenario: the primary's /api/sessions shows the session of %s", USER_NAME), "%s",
          *problem ? problem : "not listed");

    long pid = env_number("LICENCE_PRIMARY_PID", 0);
    if (with_reserved && pid > 0)
        check_failover(o, &reserved, pid);
    else
        skip("scenario: failover", "LICENCE_RESERVED and LICENCE_PRIMARY_PID are not both set");

    set_context("ReleaseLicence");
    r = call_bool(o, "ReleaseLicence", NULL, 0, &result);
    check(succeeded(&r, result), "scenario: ReleaseLicence() returns true", "%s, result %d", outcome_text(&r), result);
    check(read_bool(o, "LicenceHeld") == 0, "scenario: LicenceHeld is false after ReleaseLicence", "reads %d",
          read_bool(o, "LicenceHeld"));
    const struct endpoint *now_on = with_reserved && pid > 0 ? &reserved : &primary;
    problem = sessions_show_user(now_on, &shown);
    check(!*problem && !shown, fmt("scenario: %s's /api/sessions no longer shows the session", now_on->text), "%s",
          *problem ? problem : "still listed");
    bool empty;
    problem = connections_contain(now_on, "\"Connections\":[]", &empty);
    check(!*problem && empty, fmt("scenario: ReleaseLicence ended the connection too: %s's /api/connections is empty",
                                  now_on->text),
          "%s", *problem ? problem : "a connection is still listed");
    r = call_bool(o, "ReleaseLicence", NULL, 0, &result);
    check(succeeded(&r, result), "scenario: ReleaseLicence() with nothing held returns true", "%s, result %d",
          outcome_text(&r), result);
}

void run_licence_scenario(struct object *o, struct object *unreachable, const char *server)
{
    struct endpoint primary, reserved;
    const char *reserved_text = getenv("LICENCE_RESERVED");
    bool with_reserved = reserved_text && *reserved_text;
    if (!check(parse_endpoint(server, &primary) && (!with_reserved || parse_endpoint(reserved_text, &reserved)),
               "scenario: LICENCE_SERVER / LICENCE_RESERVED are host:port", "\"%s\", \"%s\"", server,
               with_reserved ? reserved_text : ""))
        return;
    char missing[512];
    if (!has_everything(o, missing, sizeof missing)) {
        skip(fmt("licence scenario against %s", primary.text), "the add-in does not have%s yet", missing);
        return;
    }
    run_held_part(o, &primary, with_reserved ? &reserved : NULL);
    check_unreachable(unreachable);
    const char *other_text = getenv("LICENCE_OTHER_SERVER");
    struct endpoint other;
    if (!other_text || !*other_text)
        skip("scenario: a server of another major version", "LICENCE_OTHER_SERVER is not set");
    else if (check(parse_endpoint(other_text, &other), "scenario: LICENCE_OTHER_SERVER is host:port", "\"%s\"",
                   other_text))
        check_other_major(unreachable, &other, with_reserved ? &reserved : NULL);
    if (with_reserved)
        check_config_file(unreachable, &reserved);
    else
        skip("scenario: licenceaddin.conf", "LICENCE_RESERVED is not set");
}

