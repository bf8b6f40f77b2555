/* objects.c: protected objects through the add-in's vtables against REAL licence servers, as a 1C
 * configuration opens them: `ОткрытьОбъект(ДанныеФайла, Имя)` after `ПолучитьЛицензию`, with the
 * series' public key pinned in `ОткрытыйКлючСерии`.
 *
 * Runs only when run.sh has packed the datafiles with licenceedit and named them:
 *   LICENCE_OBJECTS=DIR                    objects.datafile ("Отчёт по складу", "Report",
 *                                          "ОбщийМодуль"), small.datafile ("Отчёт"),
 *                                          other-series.datafile (672C), other-signer.datafile (672B
 *                                          signed by another key), and the packed source files
 *   LICENCE_SERIES_PUBLIC_KEY=HEX          the 672B series' Ed25519 public key (the pin)
 *   LICENCE_OBJECT_RELAY=127.0.0.1:PORT    a recording relay in front of a real server (relay.py)
 *   LICENCE_OBJECT_CAPTURE=FILE            what the relay recorded
 *   LICENCE_FAKE_SERVER=127.0.0.1:PORT     a server that grants everything, showing a stolen
 *                                          genuine key file as its proof (fake_server.py)
 * The plaintext comes back byte for byte (BLOB) or as the exact text (PWSTR); a missing licence,
 * a released one, a missing pin, another series or signer, any altered byte, wrong argument types and
 * a granting fake server are all refused with the documented LastErrorCode; the relay's capture holds
 * the object calls but no plaintext, and no field of a licence call (the user name, "UsedLicence").
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "scenario.h"
#include "utf16.h"

#define SERIES "672B"
/* What run.sh writes into the packed files; the relay's capture must show neither. */
#define BINARY_MARKER "PROTECTED-PLAINTEXT-7f3a9c"
#define TEXT_MARKER "PROTECTED-BSL-51e2"

enum { LICENCE_LOST = 8, OBJECT_REFUSED = 15, NOT_PINNED = 16, NOT_TRUSTED = 17 };

struct bytes {
    unsigned char *data;
    size_t len;
};

/* The whole file DIR/NAME (NUL-terminated past len); data NULL when unreadable. */
static struct bytes read_whole(const char *dir, const char *name)
{
    struct bytes b = {NULL, 0};
    char path[1024];
    snprintf(path, sizeof path, "%s%s%s", dir, *dir ? "/" : "", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    size_t cap = 4096;
    b.data = malloc(cap + 1);
    for (size_t got; b.data && (got = fread(b.data + b.len, 1, cap - b.len, f)) > 0;) {
        b.len += got;
        if (b.len == cap) {
            unsigned char *bigger = realloc(b.data, cap * 2 + 1);
            if (!bigger) {
                free(b.data);
                b.data = NULL;
                break;
            }
            b.data = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (b.data)
        b.data[b.len] = 0;
    return b;
}

static bool contains(const struct bytes *haystack, const void *needle, size_t len)
{
    return haystack->data && len && memmem(haystack->data, haystack->len, needle, len) != NULL;
}

/* The files run.sh leaves in LICENCE_OBJECTS. */
enum file_id { DATAFILE, SMALL, OTHER_SERIES, OTHER_SIGNER, PROCESSOR, REPORT, MODULE, SMALL_OBJECT, N_FILES };
static const char *file_names[N_FILES] = {
    "objects.datafile",    "small.datafile", "other-series.datafile", "other-signer.datafile",
    "Отчёт по складу.epf", "Report.bin",     "ОбщийМодуль.bsl",       "Отчёт.epf",
};

/* One OpenObject call's outcome and what it returned (EMPTY after a refusal, as it must be). */
struct opened {
    struct outcome r;
    uint16_t vt;
    struct bytes value; /* a BLOB's bytes, or a PWSTR as UTF-8 (malloc'd) */
};

static struct opened open_object(struct object *o, const char *method, tVariant datafile, tVariant name)
{
    tVariant params[2] = {datafile, name}, ret;
    struct opened out;
    memset(&out, 0, sizeof out);
    out.r = call_value(o, find_method(o, method), params, 2, &ret);
    out.vt = ret.vt;
    if (!*out.r.ret_problem && ret.vt == VTYPE_BLOB) {
        out.value.len = ret.u.buf.len;
        out.value.data = malloc(out.value.len + 1);
        if (out.value.data && out.value.len)
            memcpy(out.value.data, ret.u.buf.ptr, out.value.len);
    } else if (!*out.r.ret_problem && ret.vt == VTYPE_PWSTR) {
        size_t cap = (size_t)ret.u.buf.len * 3 + 1;
        out.value.data = malloc(cap);
        if (out.value.data) {
            u16_to_utf8(ret.u.buf.ptr, ret.u.buf.len, (char *)out.value.data, cap);
            out.value.len = strlen((char *)out.value.data);
        }
    }
    variant_release(&ret);
    return out;
}

/* OpenObject(bytes of `datafile`, name) through `method` (English or Russian name). */
static struct opened open_named(struct object *o, const char *method, const struct bytes *datafile, const char *name)
{
    tVariant data = variant_blob(datafile->data, datafile->len), text = variant_str(name);
    struct opened out = open_object(o, method, data, text);
    variant_free_input(&data);
    variant_free_input(&text);
    return out;
}

static const char *opened_text(const struct opened *x)
{
    return fmt("%s, vt %u, %zu byte(s) back", outcome_text(&x->r), x->vt, x->value.len);
}

/* Opens `name` and compares it with `expect` (a BLOB, or a PWSTR when `text`). */
static void check_opens(struct object *o, const char *method, const struct bytes *datafile, const char *name,
                        const struct bytes *expect, bool text, const char *label)
{
    set_context(fmt("%s(\"%s\")", method, name));
    struct opened x = open_named(o, method, datafile, name);
    bool same = x.value.len == expect->len && (!expect->len || memcmp(x.value.data, expect->data, expect->len) == 0);
    check(x.r.returned && !x.r.reported && !*x.r.ret_problem && x.vt == (text ? VTYPE_PWSTR : VTYPE_BLOB) && same,
          fmt("objects: %s(\"%s\") gives %s equal to %s (%zu bytes)", method, name,
              text ? "a Строка (PWSTR)" : "ДвоичныеДанные (BLOB)", label, expect->len),
          "%s, %s", opened_text(&x), same ? "contents equal" : "contents differ");
    free(x.value.data);
}

/* OpenObject must be refused: false, a well-formed AddError, no value, LastErrorCode `code` (or
 * `code2` when non-zero). */
static void check_refused(struct object *o, const char *method, const struct bytes *datafile, const char *name,
                          int code, int code2, const char *what)
{
    set_context(fmt("%s(\"%s\") refused: %s", method, name, what));
    struct opened x = open_named(o, method, datafile, name);
    double got = read_number(o, "LastErrorCode");
    bool code_ok = got == code || (code2 && got == code2);
    check(!*refusal_problem(&x.r) && x.vt == VTYPE_EMPTY && code_ok,
          fmt("objects: %s: %s(\"%s\") is refused with an AddError and LastErrorCode %d%s", what, method, name, code,
              code2 ? fmt(" or %d", code2) : ""),
          "%s, LastErrorCode %g (\"%s\")", opened_text(&x), got, read_string(o, "LastError"));
    free(x.value.data);
}

/* Every single-byte change of the small datafile is refused (code 15, one AddError each); the
 * datafile itself still opens afterwards. */
static void check_every_flip(struct object *o, const struct bytes *small, const struct bytes *expect)
{
    set_context("OpenObject of every single-byte flip of small.datafile");
    tVariant data = variant_blob(small->data, small->len);
    unsigned char *bytes = data.u.buf.ptr;
    size_t opened = 0, bad = 0, first_bad = (size_t)-1;
    char detail[600] = "";
    /* LICENCE_FLIP_STRIDE=N flips only every Nth byte (and the last): run.sh sets it under valgrind. */
    size_t stride = (size_t)env_number("LICENCE_FLIP_STRIDE", 1), tried = 0;
    if (stride < 1)
        stride = 1;
    double start = now_seconds();
    for (size_t i = 0; i < small->len; i++) {
        if (i % stride && i + 1 < small->len)
            continue;
        tried++;
        bytes[i] ^= 0x01;
        tVariant name = variant_str("Отчёт");
        unsigned long before = host_errors(&o->conn);
        struct opened x = open_object(o, "OpenObject", data, name);
        variant_free_input(&name);
        bytes[i] ^= 0x01;
        double code = read_number(o, "LastErrorCode");
        bool ok = *refusal_problem(&x.r) == 0 && x.vt == VTYPE_EMPTY && host_errors(&o->conn) == before + 1 &&
                  code == OBJECT_REFUSED;
        opened += x.r.returned;
        if (!ok && !bad++) {
            first_bad = i;
            snprintf(detail, sizeof detail, "%s, LastErrorCode %g (\"%s\")", opened_text(&x), code,
                     read_string(o, "LastError"));
        }
        free(x.value.data);
    }
    double took = now_seconds() - start;
    const char *which = stride == 1 ? fmt("all %zu", tried)
                                    : fmt("%zu (every %zuth byte and the last) of the %zu", tried, stride, small->len);
    check(bad == 0,
          fmt("objects: %s single-byte flips (^0x01) of small.datafile are refused with one AddError and "
              "LastErrorCode 15 (%.2fs)",
              which, took),
          "%zu of %zu not refused so (%zu opened); first at byte %zu: %s", bad, tried, opened, first_bad, detail);
    variant_free_input(&data);
    check_opens(o, "OpenObject", small, "Отчёт", expect, false, "Отчёт.epf after the flips");
}

/* Wrong argument types are refused cleanly, and the licence is still held afterwards. */
static void check_wrong_types(struct object *o, const struct bytes *datafile)
{
    struct {
        const char *what;
        tVariant data, name;
        bool names_blob; /* the error must name ДвоичныеДанные / BinaryData */
    } cases[] = {
        {"a Строка as the datafile", variant_str("not data"), variant_str("Report"), true},
        {"a Число as the name", variant_blob(datafile->data, datafile->len), variant_i4(5), false},
        {"EMPTY for both", variant_empty(), variant_empty(), false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_context(fmt("OpenObject with %s", cases[i].what));
        struct opened x = open_object(o, "OpenObject", cases[i].data, cases[i].name);
        bool named = !cases[i].names_blob || strstr(x.r.descr, "BinaryData") || strstr(x.r.descr, "ДвоичныеДанные");
        check(!*refusal_problem(&x.r) && x.vt == VTYPE_EMPTY && named,
              fmt("objects: OpenObject with %s is refused with an AddError%s", cases[i].what,
                  cases[i].names_blob ? " naming ДвоичныеДанные / BinaryData" : ""),
              "%s", opened_text(&x));
        free(x.value.data);
        variant_free_input(&cases[i].data);
        variant_free_input(&cases[i].name);
    }
    check(read_bool(o, "LicenceHeld") == 1, "objects: after the refused calls LicenceHeld is still true", "reads %d",
          read_bool(o, "LicenceHeld"));
}

/* SeriesPublicKey: set, read back (both names), a malformed value refused keeping the pin. */
static bool check_pin(struct object *o, const char *pin)
{
    set_context("SeriesPublicKey");
    bool set = set_string(o, "ОткрытыйКлючСерии", pin);
    const char *back = read_string(o, "SeriesPublicKey");
    bool ok = check(set && strcasecmp(back, pin) == 0,
                    "objects: ОткрытыйКлючСерии accepts the series' public key and SeriesPublicKey reads it back",
                    "set %d, reads \"%s\", want \"%s\"", set, back, pin);
    tVariant bad = variant_str("672B");
    struct outcome r = set_prop_outcome(o, find_prop(o, "SeriesPublicKey"), &bad);
    variant_free_input(&bad);
    back = read_string(o, "SeriesPublicKey");
    check(!*refusal_problem(&r) && strcasecmp(back, pin) == 0,
          "objects: SeriesPublicKey refuses \"672B\" (not 64 hex digits) with an AddError and keeps the pin",
          "%s, reads \"%s\"", outcome_text(&r), back);
    return ok;
}

/* The recording relay saw the object calls but neither plaintext. */
static void check_capture(const char *path, struct bytes *files)
{
    set_context("reading the relay's capture");
    struct bytes wire = read_whole("", path);
    if (!check(wire.data && wire.len > 0, fmt("relay: the capture %s holds the traffic", path), "%s",
               wire.data ? "empty" : "unreadable")) {
        free(wire.data);
        return;
    }
    check(contains(&wire, "/licence/object", strlen("/licence/object")),
          fmt("relay: the %zu captured bytes include the /licence/object calls", wire.len), "no /licence/object");
    check(!contains(&wire, BINARY_MARKER, strlen(BINARY_MARKER)),
          "relay: the binary objects' marker " BINARY_MARKER " never crossed the wire", "found in the capture");
    check(!contains(&wire, TEXT_MARKER, strlen(TEXT_MARKER)),
          "relay: the BSL text's marker " TEXT_MARKER " never crossed the wire", "found in the capture");
    check(!contains(&wire, files[REPORT].data, files[REPORT].len) &&
              !contains(&wire, files[MODULE].data, files[MODULE].len),
          "relay: neither Report.bin nor ОбщийМодуль.bsl appears whole in the capture", "found in the capture");
    check(contains(&wire, "/licence/obtain", strlen("/licence/obtain")) &&
              !contains(&wire, "Администратор", strlen("Администратор")) &&
              !contains(&wire, "UsedLicence", strlen("UsedLicence")) &&
              !contains(&wire, "SessionNumber", strlen("SessionNumber")),
          "relay: the obtain and check calls crossed sealed: no user name, no SessionNumber, no UsedLicence in clear",
          "found in the capture (or no /licence/obtain)");
    free(wire.data);
}

/* A server that grants every call and shows a stolen genuine key file as its proof, with a signature
 * it cannot make: no licence (code 17), no key parameter, and nothing opens. */
static void check_fake_server(struct object *f, const struct endpoint *fake, const char *pin, struct bytes *files)
{
    set_context("settings for the fake server");
    bool set = set_string(f, "KeyID", SERIES) && set_string(f, "ServerAddr", fake->host) &&
               set_number(f, "ServerPort", fake->port) && set_string(f, "SeriesPublicKey", pin);
    int result;
    struct outcome r = obtain(f, &result);
    double code = read_number(f, "LastErrorCode");
    check(set && !*refusal_problem(&r) && code == NOT_TRUSTED && read_bool(f, "LicenceHeld") == 0,
          fmt("fake server: ObtainLicence through %s (it grants everything) returns false with LastErrorCode 17 "
              "(ServerNotTrusted)",
              fake->text),
          "settings %d; %s, LastErrorCode %g (\"%s\")", set, outcome_text(&r), code, read_string(f, "LastError"));
    tVariant name = variant_str("LicenceCount"), value = variant_empty();
    struct outcome k = call_value(f, find_method(f, "KeyParameter"), &name, 1, &value);
    code = read_number(f, "LastErrorCode");
    check(!*refusal_problem(&k) && value.vt == VTYPE_EMPTY && code == NOT_TRUSTED,
          "fake server: KeyParameter(\"LicenceCount\") gives nothing (LastErrorCode 17)", "%s, vt %u, LastErrorCode %g",
          outcome_text(&k), value.vt, code);
    variant_release(&value);
    variant_free_input(&name);
    check_refused(f, "OpenObject", &files[DATAFILE], "Report", LICENCE_LOST, 0, "fake server, no licence");
    check_refused(f, "ОткрытьОбъект", &files[DATAFILE], "Отчёт по складу", LICENCE_LOST, 0, "fake server, no licence");
    r = call_bool(f, "ReleaseLicence", NULL, 0, &result);
    check(succeeded(&r, result), "fake server: ReleaseLicence() with nothing held returns true", "%s, result %d",
          outcome_text(&r), result);
}

static void run_held(struct object *o, struct bytes *files)
{
    int result;
    set_context("ObtainLicence for the objects");
    struct outcome r = obtain(o, &result);
    if (!check(succeeded(&r, result), "objects: ObtainLicence returns true", "%s, result %d", outcome_text(&r), result))
        return;
    check_opens(o, "ОткрытьОбъект", &files[DATAFILE], "Отчёт по складу", &files[PROCESSOR], false,
                "Отчёт по складу.epf");
    check_opens(o, "OpenObject", &files[DATAFILE], "Report", &files[REPORT], false, "Report.bin");
    check_opens(o, "OpenObject", &files[DATAFILE], "ОбщийМодуль", &files[MODULE], true, "ОбщийМодуль.bsl");
    check_opens(o, "ОТКРЫТЬОБЪЕКТ", &files[DATAFILE], "оТЧЁТ ПО СКЛАДУ", &files[PROCESSOR], false,
                "Отчёт по складу.epf (the name in another case)");
    check_opens(o, "openobject", &files[DATAFILE], "REPORT", &files[REPORT], false, "Report.bin (upper case)");
    check_opens(o, "OpenObject", &files[DATAFILE], "общиймодуль", &files[MODULE], true,
                "ОбщийМодуль.bsl (lower case)");
    check_refused(o, "OpenObject", &files[DATAFILE], "Нет такого", OBJECT_REFUSED, 0, "no such object");
    check_refused(o, "OpenObject", &files[OTHER_SERIES], "Report", OBJECT_REFUSED, 0, "a datafile of series 672C");
    check_refused(o, "OpenObject", &files[OTHER_SIGNER], "Report", OBJECT_REFUSED, 0,
                  "a 672B datafile signed by another key");
    check_every_flip(o, &files[SMALL], &files[SMALL_OBJECT]);
    check_wrong_types(o, &files[DATAFILE]);

    set_context("OpenObject with the pin cleared");
    const char *pin = fmt("%s", read_string(o, "SeriesPublicKey"));
    bool cleared = set_string(o, "SeriesPublicKey", "") && strcmp(read_string(o, "SeriesPublicKey"), "") == 0;
    check(cleared, "objects: SeriesPublicKey accepts \"\" (no pin) and reads \"\"", "reads \"%s\"",
          read_string(o, "SeriesPublicKey"));
    check_refused(o, "OpenObject", &files[DATAFILE], "Report", NOT_PINNED, 0, "no SeriesPublicKey");
    set_string(o, "SeriesPublicKey", pin);
    check_opens(o, "OpenObject", &files[DATAFILE], "Report", &files[REPORT], false, "Report.bin (pinned again)");

    set_context("ReleaseLicence, then OpenObject");
    r = call_bool(o, "ReleaseLicence", NULL, 0, &result);
    check(succeeded(&r, result), "objects: ReleaseLicence() returns true", "%s, result %d", outcome_text(&r), result);
    check_refused(o, "ОткрытьОбъект", &files[DATAFILE], "Report", LICENCE_LOST, 0, "after ReleaseLicence");
}

void run_object_checks(struct object *o, struct object *fake, const char *server)
{
    const char *dir = getenv("LICENCE_OBJECTS"), *pin = getenv("LICENCE_SERIES_PUBLIC_KEY");
    const char *relay = getenv("LICENCE_OBJECT_RELAY"), *capture = getenv("LICENCE_OBJECT_CAPTURE");
    const char *fake_text = getenv("LICENCE_FAKE_SERVER");
    if (find_method(o, "OpenObject") < 0 || find_prop(o, "SeriesPublicKey") < 0) {
        skip("protected objects", "the add-in does not have OpenObject / SeriesPublicKey yet");
        return;
    }
    struct endpoint target, fake_ep;
    bool via_relay = relay && *relay;
    if (!check(dir && *dir && pin && strlen(pin) == 64 && parse_endpoint(via_relay ? relay : server, &target),
               "objects: LICENCE_OBJECTS, a 64-digit LICENCE_SERIES_PUBLIC_KEY and the server are given",
               "LICENCE_OBJECTS \"%s\", LICENCE_SERIES_PUBLIC_KEY \"%s\", server \"%s\"", dir ? dir : "",
               pin ? pin : "", via_relay ? relay : server))
        return;
    struct bytes files[N_FILES];
    const char *missing = NULL;
    for (int i = 0; i < N_FILES; i++) {
        files[i] = read_whole(dir, file_names[i]);
        if (!files[i].data && !missing)
            missing = file_names[i];
    }
    bool markers = contains(&files[PROCESSOR], BINARY_MARKER, strlen(BINARY_MARKER)) &&
                   contains(&files[MODULE], TEXT_MARKER, strlen(TEXT_MARKER));
    if (check(!missing && markers, fmt("objects: %s holds the datafiles and their sources (with the markers)", dir),
              "%s", missing ? fmt("%s is missing", missing) : "a marker is missing")) {
        set_context("objects settings");
        bool set = set_string(o, "KeyID", SERIES) && set_string(o, "ServerAddr", target.host) &&
                   set_number(o, "ServerPort", target.port);
        check(set, fmt("objects: KeyID %s and the server %s%s are accepted", SERIES, target.text,
                       via_relay ? " (the recording relay)" : ""),
              "a set returned false (LastError \"%s\")", read_string(o, "LastError"));
        if (check_pin(o, pin)) {
            check_refused(o, "OpenObject", &files[DATAFILE], "Report", LICENCE_LOST, 0, "before ObtainLicence");
            run_held(o, files);
        }
        if (via_relay && capture && *capture)
            check_capture(capture, files);
        else
            skip("relay: the wire shows no plaintext", "LICENCE_OBJECT_RELAY / LICENCE_OBJECT_CAPTURE are not set");
        if (!fake_text || !*fake_text)
            skip("fake server: nothing opens", "LICENCE_FAKE_SERVER is not set");
        else if (check(parse_endpoint(fake_text, &fake_ep), "fake server: LICENCE_FAKE_SERVER is host:port", "\"%s\"",
                       fake_text))
            check_fake_server(fake, &fake_ep, pin, files);
    }
    for (int i = 0; i < N_FILES; i++)
        free(files[i].data);
}
