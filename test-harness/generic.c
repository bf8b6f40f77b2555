/* generic.c: checks that hold for every property and method the component reports.
 *
 * Nothing here knows the add-in's names: it enumerates GetNProps/GetNMethods, reads every name in
 * both aliases, looks each one up in four spellings, reads every readable property, feeds every
 * writable property and every parameter values of the wrong type, and calls parameterless methods
 * as the platform does (params NULL, count 0). New properties and methods are covered on arrival.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "utf16.h"

typedef const WCHAR_T *(*name_fn)(void *self, long n, long alias);
typedef long (*find_fn)(void *self, const WCHAR_T *name);

/* Properties and methods are named and found the same way; this says which one is meant. */
struct kind {
    const char *what;     /* "property" */
    const char *get_name; /* "GetPropName" */
    const char *find;     /* "FindProp" */
    name_fn get;
    find_fn lookup;
    long count;
    WCHAR_T **names; /* [n * 2 + alias], harness copies; NULL where the component gave none */
};

static char *show(const WCHAR_T *s)
{
    static char pool[8][256];
    static unsigned next;
    return (char *)u16_to_utf8(s, (size_t)-1, pool[next++ % 8], sizeof pool[0]);
}

/* "" when `p` is a non-empty name, NUL-terminated inside a live manager block; *len gets its length. */
static const char *name_problem(const WCHAR_T *p, size_t *len)
{
    *len = 0;
    if (!p)
        return "NULL";
    unsigned long block = host_memory_block_size(&g_mem, p);
    if (!block) {
        *len = u16_len(p);
        return "not allocated through the host's memory manager";
    }
    size_t units = block / sizeof(WCHAR_T);
    while (*len < units && p[*len])
        (*len)++;
    if (*len == units)
        return fmt("no NUL inside its %lu-byte block", block);
    return *len == 0 ? "empty" : "";
}

static void collect_names(struct object *o, struct kind *k)
{
    k->names = calloc((size_t)k->count * 2 + 1, sizeof *k->names);
    if (!k->names)
        abort();
    for (long i = 0; i < k->count; i++)
        for (long alias = 0; alias < 2; alias++) {
            set_context(fmt("%s(%ld, %ld) of %s", k->get_name, i, alias, o->label));
            const WCHAR_T *p = k->get(LANG_EXT(o), i, alias);
            size_t len;
            const char *problem = name_problem(p, &len);
            if (p)
                k->names[i * 2 + alias] = u16_dup_n(p, len);
            check(!*problem,
                  fmt("%s: %s(%ld, %ld) = \"%s\": non-empty, NUL-terminated, from the memory manager", o->label,
                      k->get_name, i, alias, p ? show(k->names[i * 2 + alias]) : "(null)"),
                  "%s", problem);
            if (p && host_memory_block_size(&g_mem, p))
                host_free(&g_mem, (void *)p);
        }
}

static bool is_a_name(const struct kind *k, const WCHAR_T *candidate)
{
    for (long i = 0; i < k->count * 2; i++)
        if (k->names[i] && u16_eq_nocase(k->names[i], candidate))
            return true;
    return false;
}

static void check_lookup(struct object *o, struct kind *k)
{
    static const char *case_names[] = {"UPPER", "lower", "mIxEd"};
    for (long i = 0; i < k->count * 2; i++) {
        WCHAR_T *name = k->names[i];
        if (!name)
            continue;
        long want = i / 2;
        char failures[512] = "";
        set_context(fmt("%s(\"%s\") of %s", k->find, show(name), o->label));
        long got = k->lookup(LANG_EXT(o), name);
        if (got != want)
            snprintf(failures, sizeof failures, "as written -> %ld; ", got);
        for (int c = 0; c < 3; c++) {
            WCHAR_T *spelled = u16_recase(name, (enum u16_case)c);
            got = k->lookup(LANG_EXT(o), spelled);
            if (got != want) {
                size_t used = strlen(failures);
                snprintf(failures + used, sizeof failures - used, "\"%s\" -> %ld; ", show(spelled), got);
            }
            free(spelled);
        }
        check(!*failures,
              fmt("%s: %s finds %s %ld \"%s\" as written, %s, %s and %s", o->label, k->find, k->what, want,
                  show(name), case_names[0], case_names[1], case_names[2]),
              "expected %ld: %s", want, failures);
    }

    bool distinct = true;
    for (long i = 0; i < k->count * 2 && distinct; i++)
        for (long j = 0; j < k->count * 2 && distinct; j++)
            if (i / 2 != j / 2 && k->names[i] && k->names[j] && u16_eq_nocase(k->names[i], k->names[j]))
                distinct = false;
    check(distinct, fmt("%s: %s names are distinct ignoring case", o->label, k->what), "two share a name");

    /* Unknown names: invented ones, and each real name one unit short and one unit long. */
    char failures[1024] = "";
    const char *invented[] = {"NoSuchMember", "НетТакогоЧлена", "", "ё"};
    size_t n_candidates = 4 + (size_t)k->count * 4;
    WCHAR_T **candidates = calloc(n_candidates, sizeof *candidates);
    if (!candidates)
        abort();
    for (size_t i = 0; i < 4; i++)
        candidates[i] = u16_from_utf8(invented[i]);
    for (long i = 0; i < k->count * 2; i++) {
        WCHAR_T *name = k->names[i];
        if (!name || !*name)
            continue;
        size_t len = u16_len(name);
        candidates[4 + i * 2] = u16_dup_n(name, len - 1);
        WCHAR_T *longer = u16_dup_n(name, len + 1);
        longer[len] = 'X';
        candidates[4 + i * 2 + 1] = longer;
    }
    for (size_t i = 0; i < n_candidates; i++) {
        if (!candidates[i] || (i >= 4 && is_a_name(k, candidates[i]))) {
            free(candidates[i]);
            continue;
        }
        set_context(fmt("%s(unknown \"%s\") of %s", k->find, show(candidates[i]), o->label));
        long got = k->lookup(LANG_EXT(o), candidates[i]);
        if (got != -1) {
            size_t used = strlen(failures);
            snprintf(failures + used, sizeof failures - used, "\"%s\" -> %ld; ", show(candidates[i]), got);
        }
        free(candidates[i]);
    }
    free(candidates);
    check(!*failures,
          fmt("%s: %s returns exactly -1 for unknown names (invented, truncated, extended)", o->label, k->find),
          "%s", failures);

    set_context(fmt("%s(NULL) of %s", k->find, o->label));
    long got = k->lookup(LANG_EXT(o), NULL);
    check(got == -1, fmt("%s: %s(NULL) returns -1", o->label, k->find), "returned %ld", got);

    set_context(fmt("%s out of range of %s", k->get_name, o->label));
    const WCHAR_T *past = k->get(LANG_EXT(o), k->count, 0);
    const WCHAR_T *before = k->get(LANG_EXT(o), -1, 0);
    check(!past && !before, fmt("%s: %s(%ld) and %s(-1) return NULL", o->label, k->get_name, k->count, k->get_name),
          "returned %p and %p", (const void *)past, (const void *)before);
    if (past && host_memory_block_size(&g_mem, past))
        host_free(&g_mem, (void *)past);
    if (before && host_memory_block_size(&g_mem, before))
        host_free(&g_mem, (void *)before);
}

static void free_names(struct kind *k)
{
    for (long i = 0; i < k->count * 2; i++)
        free(k->names[i]);
    free(k->names);
}

/* A value of the wrong type for anything: `kind` 0 is vt=999, 1 is PWSTR with NULL and length 5. */
static tVariant wrong_value(int kind)
{
    tVariant v = variant_empty();
    if (kind == 0) {
        v.vt = 999;
        v.u.i8 = 42;
    } else {
        v.vt = VTYPE_PWSTR;
        v.u.buf.ptr = NULL;
        v.u.buf.len = 5;
    }
    return v;
}

static const char *wrong_names[] = {"vt=999", "PWSTR with NULL pointer and length 5"};

static void check_properties(struct object *o, struct kind *k)
{
    char before[256], after[256];
    for (long i = 0; i < k->count; i++) {
        const char *name = k->names[i * 2] ? show(k->names[i * 2]) : fmt("#%ld", i);
        set_context(fmt("IsPropReadable/IsPropWritable(%s) of %s", name, o->label));
        bool readable = from_abi(LX(o)->IsPropReadable(LANG_EXT(o), i), "IsPropReadable");
        bool writable = from_abi(LX(o)->IsPropWritable(LANG_EXT(o), i), "IsPropWritable");
        before[0] = 0;
        if (readable) {
            set_context(fmt("GetPropVal(%s) of %s", name, o->label));
            tVariant v;
            bool ok = get_prop(o, i, &v);
            const char *problem = ok ? variant_problem(&v) : "returned false";
            variant_show(&v, before, sizeof before);
            check(!*problem, fmt("%s: GetPropVal(%s) returns a well-formed value (%s)", o->label, name, before), "%s",
                  problem);
            variant_release(&v);
        }
        for (int w = 0; w < 2; w++) {
            set_context(fmt("SetPropVal(%s, %s) of %s", name, wrong_names[w], o->label));
            tVariant bad = wrong_value(w);
            struct outcome r = set_prop_outcome(o, i, &bad);
            if (writable)
                check(!*refusal_problem(&r),
                      fmt("%s: SetPropVal(%s, %s) is refused with an AddError (scode != 0)", o->label, name,
                          wrong_names[w]),
                      "%s", refusal_problem(&r));
            else
                check(!r.returned,
                      fmt("%s: SetPropVal of read-only %s (%s) returns false", o->label, name, wrong_names[w]),
                      "returned true");
        }
        if (!writable) {
            tVariant v = variant_str("x");
            bool set = set_prop(o, i, &v);
            variant_free_input(&v);
            check(!set, fmt("%s: SetPropVal of read-only %s (a string) returns false", o->label, name),
                  "returned true");
        }
        if (readable && writable) {
            tVariant v;
            if (get_prop(o, i, &v))
                variant_show(&v, after, sizeof after);
            else
                snprintf(after, sizeof after, "GetPropVal failed");
            variant_release(&v);
            check(strcmp(before, after) == 0, fmt("%s: refused sets leave %s unchanged", o->label, name),
                  "was %s, now %s", before, after);
        }
    }
    set_context(fmt("out-of-range and NULL property calls of %s", o->label));
    tVariant v = variant_empty();
    bool past = get_prop(o, k->count, &v);
    variant_release(&v);
    tVariant s = variant_i4(1);
    bool set_past = set_prop(o, k->count, &s);
    bool null_get = k->count > 0 && from_abi(LX(o)->GetPropVal(LANG_EXT(o), 0, NULL), "GetPropVal");
    bool null_set = k->count > 0 && from_abi(LX(o)->SetPropVal(LANG_EXT(o), 0, NULL), "SetPropVal");
    check(!past && !set_past && !null_get && !null_set,
          fmt("%s: GetPropVal/SetPropVal with index %ld or a NULL variant return false", o->label, k->count),
          "get past end %d, set past end %d, get NULL %d, set NULL %d", past, set_past, null_get, null_set);
}

static void check_one_method(struct object *o, long m, const char *name)
{
    set_context(fmt("GetNParams/HasRetVal/GetParamDefValue(%s) of %s", name, o->label));
    long nparams = LX(o)->GetNParams(LANG_EXT(o), m);
    bool has_ret = from_abi(LX(o)->HasRetVal(LANG_EXT(o), m), "HasRetVal");
    char problems[512] = "";
    for (long p = 0; p >= 0 && p < nparams && p < 64; p++) {
        tVariant v = variant_empty();
        if (from_abi(LX(o)->GetParamDefValue(LANG_EXT(o), m, p, &v), "GetParamDefValue") && *variant_problem(&v)) {
            size_t used = strlen(problems);
            snprintf(problems + used, sizeof problems - used, "param %ld: %s; ", p, variant_problem(&v));
        }
        variant_release(&v);
    }
    check(nparams >= 0 && nparams < 64 && !*problems,
          fmt("%s: %s has %ld param(s), %s, well-formed default values", o->label, name, nparams,
              has_ret ? "a function" : "a procedure"),
          "GetNParams %ld; %s", nparams, problems);
    if (nparams < 0 || nparams >= 64)
        return;
    set_context(fmt("GetParamDefValue(%s) out of range or NULL of %s", name, o->label));
    tVariant past = variant_empty();
    bool got_past = from_abi(LX(o)->GetParamDefValue(LANG_EXT(o), m, nparams, &past), "GetParamDefValue");
    variant_release(&past);
    bool got_null = from_abi(LX(o)->GetParamDefValue(LANG_EXT(o), m, 0, NULL), "GetParamDefValue");
    check(!got_past && !got_null,
          fmt("%s: %s: GetParamDefValue of param %ld or into a NULL variant returns false", o->label, name, nparams),
          "past the end %d, NULL variant %d", got_past, got_null);

    if (nparams == 0) {
        set_context(fmt("calling %s with params NULL, count 0 of %s", name, o->label));
        struct outcome r = call_outcome(o, m, NULL, 0);
        check((r.returned || r.reported) && !*r.ret_problem,
              fmt("%s: %s(params NULL, count 0) returns true, or false with an AddError", o->label, name), "%s%s",
              r.returned ? "" : "false without AddError ", r.ret_problem);
        return;
    }
    for (int w = 0; w < 2; w++) {
        char failures[512] = "";
        for (long p = 0; p < nparams; p++) {
            set_context(fmt("calling %s with %s as param %ld of %s", name, wrong_names[w], p, o->label));
            tVariant params[64];
            for (long q = 0; q < nparams; q++)
                params[q] = variant_empty();
            params[p] = wrong_value(w);
            struct outcome r = call_outcome(o, m, params, nparams);
            if (*refusal_problem(&r)) {
                size_t used = strlen(failures);
                snprintf(failures + used, sizeof failures - used, "param %ld: %s; ", p, refusal_problem(&r));
            }
        }
        check(!*failures,
              fmt("%s: %s with %s in any param is refused with an AddError (scode != 0)", o->label, name,
                  wrong_names[w]),
              "%s", failures);
    }
    set_context(fmt("calling %s with params NULL, count %ld of %s", name, nparams, o->label));
    struct outcome r = call_outcome(o, m, NULL, nparams);
    check(!r.returned, fmt("%s: %s(params NULL, count %ld) returns false", o->label, name, nparams), "returned true");
}

static void check_methods(struct object *o, struct kind *k)
{
    for (long m = 0; m < k->count; m++)
        check_one_method(o, m, k->names[m * 2] ? show(k->names[m * 2]) : fmt("#%ld", m));

    set_context(fmt("out-of-range method calls of %s", o->label));
    long past = k->count;
    long nparams = LX(o)->GetNParams(LANG_EXT(o), past);
    tVariant ret = variant_empty();
    bool proc = from_abi(LX(o)->CallAsProc(LANG_EXT(o), past, NULL, 0), "CallAsProc");
    bool func = from_abi(LX(o)->CallAsFunc(LANG_EXT(o), past, &ret, NULL, 0), "CallAsFunc");
    variant_release(&ret);
    check(nparams == 0 && !proc && !func,
          fmt("%s: method index %ld: GetNParams 0, CallAsProc and CallAsFunc false", o->label, past),
          "GetNParams %ld, CallAsProc %d, CallAsFunc %d", nparams, proc, func);
}

void run_generic_checks(struct object *o)
{
    set_context(fmt("GetNProps/GetNMethods of %s", o->label));
    struct kind props = {"property", "GetPropName", "FindProp", LX(o)->GetPropName, LX(o)->FindProp,
                         LX(o)->GetNProps(LANG_EXT(o)), NULL};
    struct kind methods = {"method", "GetMethodName", "FindMethod", LX(o)->GetMethodName, LX(o)->FindMethod,
                           LX(o)->GetNMethods(LANG_EXT(o)), NULL};
    check(props.count >= 0 && props.count < 1000 && methods.count >= 0 && methods.count < 1000,
          fmt("%s: GetNProps = %ld, GetNMethods = %ld", o->label, props.count, methods.count), "out of range");
    if (props.count < 0 || props.count >= 1000 || methods.count < 0 || methods.count >= 1000)
        return;
    collect_names(o, &props);
    collect_names(o, &methods);
    check_lookup(o, &props);
    check_lookup(o, &methods);
    check_properties(o, &props);
    check_methods(o, &methods);
    free_names(&props);
    free_names(&methods);
}
