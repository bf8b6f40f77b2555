/* calls.c: calling the component as the platform does, and judging what it hands back.
 *
 * Every helper that receives memory from the component (names, string values) checks that it came
 * from the harness's memory manager and frees it there exactly once, as the platform would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "utf16.h"

long find_prop(struct object *o, const char *utf8_name)
{
    WCHAR_T *name = u16_from_utf8(utf8_name);
    long n = LX(o)->FindProp(LANG_EXT(o), name);
    free(name);
    return n;
}

long find_method(struct object *o, const char *utf8_name)
{
    WCHAR_T *name = u16_from_utf8(utf8_name);
    long n = LX(o)->FindMethod(LANG_EXT(o), name);
    free(name);
    return n;
}

tVariant variant_empty(void)
{
    tVariant v;
    memset(&v, 0, sizeof v);
    v.vt = VTYPE_EMPTY;
    return v;
}

/* An input variant whose union bytes are all 0xA5 before the value is written: the platform does not
 * clear the bytes a value does not use (e.g. +12..+15 after a string's u32 length), so a component
 * that reads more than the member for the type gets garbage, as it would in 1C. */
static tVariant variant_poisoned(uint16_t vt)
{
    tVariant v = variant_empty();
    memset(&v.u, 0xA5, sizeof v.u);
    v.vt = vt;
    return v;
}

tVariant variant_i4(int32_t x)
{
    tVariant v = variant_poisoned(VTYPE_I4);
    v.u.i4 = x;
    return v;
}

tVariant variant_r8(double x)
{
    tVariant v = variant_poisoned(VTYPE_R8);
    v.u.r8 = x;
    return v;
}

tVariant variant_str(const char *utf8)
{
    tVariant v = variant_poisoned(VTYPE_PWSTR);
    v.u.buf.ptr = u16_from_utf8(utf8);
    v.u.buf.len = (uint32_t)u16_len(v.u.buf.ptr);
    return v;
}

tVariant variant_blob(const void *bytes, size_t len)
{
    tVariant v = variant_poisoned(VTYPE_BLOB);
    v.u.buf.ptr = malloc(len ? len : 1);
    if (!v.u.buf.ptr)
        abort();
    if (len)
        memcpy(v.u.buf.ptr, bytes, len);
    v.u.buf.len = (uint32_t)len;
    return v;
}

void variant_free_input(tVariant *v)
{
    if (v->vt == VTYPE_PWSTR || v->vt == VTYPE_BLOB)
        free(v->u.buf.ptr);
    *v = variant_empty();
}

static bool known_vt(uint16_t vt)
{
    switch (vt) {
    case VTYPE_EMPTY: case VTYPE_NULL: case VTYPE_I2: case VTYPE_I4: case VTYPE_R4: case VTYPE_R8:
    case VTYPE_DATE: case VTYPE_TM: case VTYPE_PSTR: case VTYPE_ERROR: case VTYPE_BOOL: case VTYPE_I1:
    case VTYPE_UI1: case VTYPE_UI2: case VTYPE_UI4: case VTYPE_I8: case VTYPE_UI8: case VTYPE_PWSTR:
    case VTYPE_BLOB:
        return true;
    default:
        return false;
    }
}

static bool is_buffer_vt(uint16_t vt)
{
    return vt == VTYPE_PWSTR || vt == VTYPE_PSTR || vt == VTYPE_BLOB;
}

const char *variant_problem(const tVariant *v)
{
    if (!known_vt(v->vt))
        return fmt("unknown vt %u", v->vt);
    if (v->vt == VTYPE_BOOL && v->u.b > 1)
        return fmt("BOOL holds %u, not 0 or 1", v->u.b);
    if (!is_buffer_vt(v->vt))
        return "";
    const void *p = v->u.buf.ptr;
    unsigned long len = v->u.buf.len;
    if (!p)
        return len == 0 ? "" : fmt("NULL pointer with length %lu", len);
    unsigned long block = host_memory_block_size(&g_mem, p);
    if (block == 0)
        return "contents not allocated through the host's memory manager";
    if (v->vt == VTYPE_BLOB)
        return block >= len ? "" : fmt("length %lu exceeds the %lu-byte block", len, block);
    unsigned long unit = v->vt == VTYPE_PWSTR ? 2 : 1;
    if (block < (len + 1) * unit)
        return fmt("length %lu plus NUL does not fit the %lu-byte block", len, block);
    unsigned long actual = 0;
    if (unit == 2)
        while (actual < len && ((const WCHAR_T *)p)[actual])
            actual++;
    else
        while (actual < len && ((const char *)p)[actual])
            actual++;
    if (actual != len)
        return fmt("length says %lu but a NUL comes after %lu units", len, actual);
    bool nul = unit == 2 ? ((const WCHAR_T *)p)[len] == 0 : ((const char *)p)[len] == 0;
    return nul ? "" : "not NUL-terminated";
}

void variant_release(tVariant *v)
{
    if (is_buffer_vt(v->vt) && v->u.buf.ptr && host_memory_block_size(&g_mem, v->u.buf.ptr))
        host_free(&g_mem, v->u.buf.ptr);
    *v = variant_empty();
}

const char *variant_show(const tVariant *v, char *buf, size_t cap)
{
    char text[256];
    switch (v->vt) {
    case VTYPE_EMPTY: snprintf(buf, cap, "EMPTY"); break;
    case VTYPE_I2: snprintf(buf, cap, "I2 %d", v->u.i2); break;
    case VTYPE_I4: snprintf(buf, cap, "I4 %d", v->u.i4); break;
    case VTYPE_I8: snprintf(buf, cap, "I8 %lld", (long long)v->u.i8); break;
    case VTYPE_R4: snprintf(buf, cap, "R4 %g", v->u.r4); break;
    case VTYPE_R8: snprintf(buf, cap, "R8 %g", v->u.r8); break;
    case VTYPE_BOOL: snprintf(buf, cap, "BOOL %u", v->u.b); break;
    case VTYPE_PWSTR:
        snprintf(buf, cap, "PWSTR \"%s\"",
                 v->u.buf.ptr ? u16_to_utf8(v->u.buf.ptr, v->u.buf.len, text, sizeof text) : "(null)");
        break;
    default: snprintf(buf, cap, "vt %u", v->vt); break;
    }
    return buf;
}

bool variant_number(const tVariant *v, double *out)
{
    switch (v->vt) {
    case VTYPE_I1: *out = v->u.i1; return true;
    case VTYPE_I2: *out = v->u.i2; return true;
    case VTYPE_I4: *out = v->u.i4; return true;
    case VTYPE_I8: *out = (double)v->u.i8; return true;
    case VTYPE_UI1: *out = v->u.ui1; return true;
    case VTYPE_UI2: *out = v->u.ui2; return true;
    case VTYPE_UI4: *out = v->u.ui4; return true;
    case VTYPE_UI8: *out = (double)v->u.ui8; return true;
    case VTYPE_R4: *out = v->u.r4; return true;
    case VTYPE_R8: *out = v->u.r8; return true;
    default: return false;
    }
}

bool get_prop(struct object *o, long prop, tVariant *out)
{
    *out = variant_empty();
    return from_abi(LX(o)->GetPropVal(LANG_EXT(o), prop, out), "GetPropVal");
}

bool get_prop_string(struct object *o, long prop, char *buf, size_t cap)
{
    tVariant v;
    if (!get_prop(o, prop, &v)) {
        snprintf(buf, cap, "GetPropVal(%ld) returned false", prop);
        return false;
    }
    const char *problem = variant_problem(&v);
    bool ok = v.vt == VTYPE_PWSTR && !*problem;
    if (ok && v.u.buf.ptr)
        u16_to_utf8(v.u.buf.ptr, v.u.buf.len, buf, cap);
    else if (ok)
        buf[0] = 0;
    else if (*problem)
        snprintf(buf, cap, "ill-formed value: %s", problem);
    else
        variant_show(&v, buf, cap);
    variant_release(&v);
    return ok;
}

bool get_prop_number(struct object *o, long prop, double *out)
{
    tVariant v;
    bool ok = get_prop(o, prop, &v) && variant_number(&v, out);
    variant_release(&v);
    return ok;
}

bool set_prop(struct object *o, long prop, tVariant *val)
{
    return from_abi(LX(o)->SetPropVal(LANG_EXT(o), prop, val), "SetPropVal");
}

static struct outcome outcome_since(struct object *o, unsigned long errors_before, bool returned)
{
    struct outcome r;
    memset(&r, 0, sizeof r);
    r.returned = returned;
    pthread_mutex_lock(&o->conn.lock);
    r.reported = o->conn.errors > errors_before;
    if (r.reported) {
        r.scode = o->conn.last_scode;
        r.wcode = o->conn.last_wcode;
        snprintf(r.descr, sizeof r.descr, "%s", o->conn.last_descr);
    }
    pthread_mutex_unlock(&o->conn.lock);
    return r;
}

struct outcome set_prop_outcome(struct object *o, long prop, tVariant *val)
{
    unsigned long before = host_errors(&o->conn);
    bool ok = set_prop(o, prop, val);
    return outcome_since(o, before, ok);
}

struct outcome call_value(struct object *o, long method, tVariant *params, long count, tVariant *ret)
{
    void **inputs = calloc(count > 0 ? (size_t)count : 1, sizeof *inputs);
    if (!inputs)
        abort();
    for (long i = 0; params && i < count; i++)
        inputs[i] = params[i].u.buf.ptr;
    unsigned long before = host_errors(&o->conn);
    bool ok;
    const char *problem = "";
    *ret = variant_empty();
    if (from_abi(LX(o)->HasRetVal(LANG_EXT(o), method), "HasRetVal")) {
        ok = from_abi(LX(o)->CallAsFunc(LANG_EXT(o), method, ret, params, count), "CallAsFunc");
        problem = variant_problem(ret);
    } else {
        ok = from_abi(LX(o)->CallAsProc(LANG_EXT(o), method, params, count), "CallAsProc");
    }
    struct outcome r = outcome_since(o, before, ok);
    snprintf(r.ret_problem, sizeof r.ret_problem, "%s", problem);
    for (long i = 0; params && i < count; i++) {
        tVariant *p = &params[i];
        if (is_buffer_vt(p->vt) && p->u.buf.ptr != inputs[i] && host_memory_block_size(&g_mem, p->u.buf.ptr))
            host_free(&g_mem, p->u.buf.ptr), p->u.buf.ptr = inputs[i];
    }
    free(inputs);
    return r;
}

struct outcome call_outcome(struct object *o, long method, tVariant *params, long count)
{
    tVariant ret;
    struct outcome r = call_value(o, method, params, count, &ret);
    variant_release(&ret);
    return r;
}

const char *refusal_problem(const struct outcome *r)
{
    if (r->returned)
        return "returned true";
    if (!r->reported)
        return "returned false without AddError";
    if (r->scode == 0)
        return fmt("AddError with scode 0 (\"%s\")", r->descr);
    if (r->wcode < 1000 || r->wcode > 1009)
        return fmt("AddError with wcode %u, not one of 1000..1009", r->wcode);
    if (!*r->descr)
        return "AddError with an empty description";
    return "";
}
