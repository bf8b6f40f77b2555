/* licence_checks.c: the checks that know the Licence add-in's own properties and methods.
 *
 * Everything name-specific lives here; generic.c covers whatever the component reports. The table
 * below is the contract with the add-in: English and Russian names, readability and writability.
 * Entries marked upcoming belong to the licence API being built: while absent they are `skip`ped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "utf16.h"

struct expected_prop {
    const char *en, *ru;
    bool writable;
    bool upcoming; /* part of the licence API still being built: absent means skip, not fail */
};

static const struct expected_prop expected_props[] = {
    {"Version", "Версия", false, false},
    {"ServerAddr", "АдресСервера", true, false},
    {"ServerPort", "ПортСервера", true, false},
    {"KeyID", "СерияКлючей", true, false},
    {"LastError", "ОписаниеОшибки", false, false},
    {"LastErrorCode", "КодОшибки", false, false},
    {"ReservedServers", "РезервныеСерверы", true, true},
    {"IsServer", "ЭтоСервер", true, true},
    {"ServerInUse", "ИспользуемыйСервер", false, true},
    {"LicenceHeld", "ЛицензияПолучена", false, true},
    {"SeriesPublicKey", "ОткрытыйКлючСерии", true, true},
};

struct expected_method {
    const char *en, *ru;
    long nparams;
    bool has_ret;
    bool upcoming;
};

static const struct expected_method expected_methods[] = {
    {"ResetError", "СброситьОшибку", 0, false, false},
    {"Connect", "Подключиться", 0, true, true},
    {"ObtainLicence", "ПолучитьЛицензию", 7, true, true},
    {"CheckLicence", "ПроверитьЛицензию", 0, true, true},
    {"ReleaseLicence", "ОсвободитьЛицензию", 0, true, true},
    {"KeyParameter", "ПараметрКлюча", 1, true, true},
    {"HasFlag", "ЕстьФлаг", 1, true, true},
    {"OpenObject", "ОткрытьОбъект", 2, true, true},
};

/* The name the component gives for (n, alias), as UTF-8, freed through the manager. */
static const char *component_name(struct object *o, bool method, long n, long alias)
{
    const WCHAR_T *p = method ? LX(o)->GetMethodName(LANG_EXT(o), n, alias) : LX(o)->GetPropName(LANG_EXT(o), n, alias);
    char text[128];
    const char *name = fmt("%s", u16_to_utf8(p, (size_t)-1, text, sizeof text));
    if (p && host_memory_block_size(&g_mem, p))
        host_free(&g_mem, (void *)p);
    return name;
}

static void check_declarations(struct object *o)
{
    for (size_t i = 0; i < sizeof expected_props / sizeof expected_props[0]; i++) {
        const struct expected_prop *e = &expected_props[i];
        set_context(fmt("declaration of property %s", e->en));
        long n = find_prop(o, e->en), n_ru = find_prop(o, e->ru);
        if (e->upcoming && n < 0 && n_ru < 0) {
            skip(fmt("property %s / %s exists under both names", e->en, e->ru), "not in the add-in yet");
            continue;
        }
        if (!check(n >= 0 && n == n_ru, fmt("property %s / %s exists under both names", e->en, e->ru),
                   "FindProp gives %ld and %ld", n, n_ru))
            continue;
        const char *en = component_name(o, false, n, 0), *ru = component_name(o, false, n, 1);
        check(strcmp(en, e->en) == 0 && strcmp(ru, e->ru) == 0,
              fmt("property %ld is named %s (alias 0) and %s (alias 1)", n, e->en, e->ru), "named %s and %s", en, ru);
        bool readable = from_abi(LX(o)->IsPropReadable(LANG_EXT(o), n), "IsPropReadable");
        bool writable = from_abi(LX(o)->IsPropWritable(LANG_EXT(o), n), "IsPropWritable");
        check(readable && writable == e->writable,
              fmt("property %s is readable and %s", e->en, e->writable ? "writable" : "read-only"),
              "readable %d, writable %d", readable, writable);
    }
    for (size_t i = 0; i < sizeof expected_methods / sizeof expected_methods[0]; i++) {
        const struct expected_method *e = &expected_methods[i];
        set_context(fmt("declaration of method %s", e->en));
        long n = find_method(o, e->en), n_ru = find_method(o, e->ru);
        if (e->upcoming && n < 0 && n_ru < 0) {
            skip(fmt("method %s / %s exists under both names", e->en, e->ru), "not in the add-in yet");
            continue;
        }
        if (!check(n >= 0 && n == n_ru, fmt("method %s / %s exists under both names", e->en, e->ru),
                   "FindMethod gives %ld and %ld", n, n_ru))
            continue;
        const char *en = component_name(o, true, n, 0), *ru = component_name(o, true, n, 1);
        long nparams = LX(o)->GetNParams(LANG_EXT(o), n);
        bool has_ret = from_abi(LX(o)->HasRetVal(LANG_EXT(o), n), "HasRetVal");
        check(strcmp(en, e->en) == 0 && strcmp(ru, e->ru) == 0 && nparams == e->nparams && has_ret == e->has_ret,
              fmt("method %s / %s: %ld param(s), %s", e->en, e->ru, e->nparams, e->has_ret ? "function" : "procedure"),
              "named %s / %s, %ld param(s), HasRetVal %d", en, ru, nparams, has_ret);
    }
}

static bool refused(const struct outcome *r)
{
    return !*refusal_problem(r);
}

static const char *outcome_text(const struct outcome *r)
{
    return fmt("returned %d, AddError %s (wcode %u, scode %ld, \"%s\")", r->returned, r->reported ? "yes" : "no",
               r->wcode, r->scode, r->descr);
}

static void check_version(struct object *o)
{
    set_context("Version");
    char text[256];
    long n = find_prop(o, "Version");
    bool ok = n >= 0 && get_prop_string(o, n, text, sizeof text);
    check(ok && strncmp(text, "3.0.", 4) == 0 && strlen(text) > 4, "Version is a string starting with \"3.0.\"",
          "%s", n < 0 ? "no such property" : text);
}

static void check_string_round_trip(struct object *o, long n, const char *prop, const char *value)
{
    set_context(fmt("%s round trip", prop));
    tVariant v = variant_str(value);
    bool set = set_prop(o, n, &v);
    variant_free_input(&v);
    char text[256];
    bool got = get_prop_string(o, n, text, sizeof text);
    check(set && got && strcmp(text, value) == 0, fmt("%s round-trips \"%s\"", prop, value),
          "set returned %d, read %s", set, text);
}

static void check_server_addr(struct object *a, struct object *b)
{
    long n = find_prop(a, "ServerAddr");
    if (n < 0)
        return;
    check_string_round_trip(a, n, "ServerAddr", "licence.example.com");
    check_string_round_trip(a, n, "ServerAddr", "сервер-лицензий.пример.рф");
    char text[256];
    bool got = get_prop_string(b, n, text, sizeof text);
    check(got && strcmp(text, "сервер-лицензий.пример.рф") != 0,
          "objects are independent: object B's ServerAddr is its own",
          "object B reads %s", text);
}

static void check_server_port(struct object *o)
{
    long n = find_prop(o, "ServerPort");
    if (n < 0)
        return;
    struct {
        tVariant v;
        double expect;
        const char *what;
    } good[] = {{variant_i4(9099), 9099, "I4 9099"}, {variant_r8(9100.0), 9100, "R8 9100.0"}};
    for (size_t i = 0; i < 2; i++) {
        set_context(fmt("ServerPort = %s", good[i].what));
        struct outcome r = set_prop_outcome(o, n, &good[i].v);
        double back = NAN;
        bool read = get_prop_number(o, n, &back);
        check(r.returned && !r.reported && read && back == good[i].expect,
              fmt("ServerPort accepts %s and reads back %g", good[i].what, good[i].expect), "%s, read %d %g",
              outcome_text(&r), read, back);
    }
    struct {
        tVariant v;
        const char *what;
    } bad[] = {{variant_i4(0), "I4 0"}, {variant_i4(70000), "I4 70000"}, {variant_str("9099"), "PWSTR \"9099\""},
               {variant_empty(), "EMPTY"}};
    for (size_t i = 0; i < 4; i++) {
        set_context(fmt("ServerPort = %s", bad[i].what));
        struct outcome r = set_prop_outcome(o, n, &bad[i].v);
        variant_free_input(&bad[i].v);
        double back = NAN;
        bool read = get_prop_number(o, n, &back);
        check(refused(&r) && read && back == 9100,
              fmt("ServerPort refuses %s with false + AddError and keeps 9100", bad[i].what), "%s, reads %g",
              outcome_text(&r), back);
    }
}

static void check_key_id_and_errors(struct object *a, struct object *b)
{
    long n = find_prop(a, "KeyID"), code = find_prop(a, "LastErrorCode"), descr = find_prop(a, "LastError");
    long reset = find_method(a, "ResetError");
    if (n < 0 || code < 0 || descr < 0 || reset < 0)
        return;
    set_context("KeyID = \"672b\"");
    tVariant v = variant_str("672b");
    struct outcome r = set_prop_outcome(a, n, &v);
    variant_free_input(&v);
    char text[256];
    bool got = get_prop_string(a, n, text, sizeof text);
    check(r.returned && got && strcmp(text, "672B") == 0, "KeyID accepts \"672b\" and reads back \"672B\"",
          "%s, reads %s", outcome_text(&r), text);

    set_context("KeyID = \"67ZB\"");
    unsigned long b_errors = host_errors(&b->conn);
    v = variant_str("67ZB");
    r = set_prop_outcome(a, n, &v);
    variant_free_input(&v);
    got = get_prop_string(a, n, text, sizeof text);
    check(refused(&r) && got && strcmp(text, "672B") == 0,
          "KeyID refuses \"67ZB\" with false + AddError and keeps \"672B\"",
          "%s, reads %s", outcome_text(&r), text);
    check(strstr(r.descr, "67ZB") != NULL, "the KeyID refusal's AddError text names the bad input \"67ZB\"",
          "text \"%s\"", r.descr);
    check(host_errors(&b->conn) == b_errors, "object A's errors go to object A's connection only",
          "object B's connection received an AddError");

    set_context("LastErrorCode after a refusal");
    double value = 0;
    bool read = get_prop_number(a, code, &value);
    check(read && value != 0, "LastErrorCode is non-zero after a refused set", "read %d, value %g", read, value);
    got = get_prop_string(a, descr, text, sizeof text);
    check(got && *text, "LastError describes the refusal", "reads \"%s\"", text);

    set_context("ResetError");
    r = call_outcome(a, reset, NULL, 0);
    value = NAN;
    read = get_prop_number(a, code, &value);
    check(r.returned && read && value == 0, "ResetError returns true and LastErrorCode reads 0", "%s, code %g",
          outcome_text(&r), value);
    got = get_prop_string(a, descr, text, sizeof text);
    check(got && !*text, "ResetError empties LastError", "reads \"%s\"", text);
}

/* ObtainLicence's UserName (param 4) and AccessCode (param 6) may be omitted in BSL: the platform
 * then asks GetParamDefValue, which must give Неопределено (EMPTY). */
static void check_obtain_defaults(struct object *o)
{
    long m = find_method(o, "ObtainLicence");
    if (m < 0)
        return;
    const long optional[] = {4, 6};
    for (size_t i = 0; i < 2; i++) {
        set_context(fmt("GetParamDefValue(ObtainLicence, %ld)", optional[i]));
        tVariant v = variant_empty();
        v.vt = VTYPE_I4; /* not what the default is: the component must write it */
        bool got = from_abi(LX(o)->GetParamDefValue(LANG_EXT(o), m, optional[i], &v), "GetParamDefValue");
        char shown[128];
        variant_show(&v, shown, sizeof shown);
        check(got && v.vt == VTYPE_EMPTY,
              fmt("ObtainLicence param %ld (%s) may be omitted: its default is Неопределено (EMPTY)", optional[i],
                  optional[i] == 4 ? "UserName" : "AccessCode"),
              "GetParamDefValue returned %d, %s", got, shown);
        variant_release(&v);
    }
}

void run_licence_checks(struct object *a, struct object *b)
{
    check_declarations(a);
    check_version(a);
    check_server_addr(a, b);
    check_server_port(a);
    check_key_id_and_errors(a, b);
    check_obtain_defaults(a);
}
