/* harness.h: what the check files share: the check reporter, the loaded library, a live component
 * object with its own host connection, and helpers that call the component as the platform does
 * (freeing whatever it hands over through the harness's memory manager).
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "host.h"
#include "nativeapi.h"

#define CLASS_NAME "Licence"

/* Prints `ok - name` or `FAIL - name: detail` and counts it; returns ok (report.c). */
bool check(bool ok, const char *name, const char *detail_fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints `skip - name: reason`: a check that could not run (counted apart, never as passed). */
void skip(const char *name, const char *reason_fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the skip count (if any) and the last line `N passed, N failed`; the exit code to use. */
int summary(void);
/* A handler that reports the running step and the tally if the component kills the process. */
void install_crash_report(void);
/* Every block freed once, no double or unknown frees, every returned bool 0 or 1. */
void check_memory_and_abi(void);
/* A formatted string in a small rotating pool (names of checks built on the fly). */
const char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Names what the harness is doing, for the crash report if the component kills the process. */
void set_context(const char *what);
/* Converts a raw bool returned by the component, remembering any value other than 0 or 1. */
bool from_abi(abi_bool raw, const char *what);

extern struct host_memory g_mem;

struct object {
    const char *label; /* "object A" */
    component *obj;
    struct host_connection conn;
    const char *platform_version; /* when set, the host offers IPlatformInfo with it and app_type */
    int app_type;
};

/* The interface sub-object pointers: `self` for each group of methods. */
#define INIT_DONE(o) ((void *)&(o)->obj->init_done)
#define LANG_EXT(o) ((void *)&(o)->obj->lang_ext)
#define LX(o) ((o)->obj->lang_ext)

long find_prop(struct object *o, const char *utf8_name);
long find_method(struct object *o, const char *utf8_name);

/* A variant cleared as the platform clears it before handing it to the component. */
tVariant variant_empty(void);
/* Inputs (I4, R8, PWSTR) carry 0xA5 in every union byte their member does not use, as 1C's may. */
tVariant variant_i4(int32_t v);
tVariant variant_r8(double v);
/* PWSTR pointing at a malloc'd copy (harness memory, not the manager's): free with variant_free_input. */
tVariant variant_str(const char *utf8);
/* BLOB (ДвоичныеДанные) pointing at a malloc'd copy of `len` bytes: free with variant_free_input. */
tVariant variant_blob(const void *bytes, size_t len);
void variant_free_input(tVariant *v);

/* Checks a variant the component filled: a known type, strings NUL-terminated with the stated
 * length in a live manager block. Returns "" when well formed, else what is wrong. */
const char *variant_problem(const tVariant *v);
/* Frees what the component allocated inside a variant, as the platform does. */
void variant_release(tVariant *v);
/* Renders a variant for messages ("I4 9099", "PWSTR \"abc\"", ...). */
const char *variant_show(const tVariant *v, char *buf, size_t cap);
/* A number variant's value (I2, I4, I8, UI1, R4, R8 ...); false for other types. */
bool variant_number(const tVariant *v, double *out);

/* GetPropVal into *out (released by the caller with variant_release); false when the call fails. */
bool get_prop(struct object *o, long prop, tVariant *out);
/* Reads a string property into buf as UTF-8 (and frees it); false with a reason in buf otherwise. */
bool get_prop_string(struct object *o, long prop, char *buf, size_t cap);
bool get_prop_number(struct object *o, long prop, double *out);
bool set_prop(struct object *o, long prop, tVariant *val);

/* One call's outcome as the platform sees it. */
struct outcome {
    bool returned;          /* the call's bool result */
    bool reported;          /* an AddError arrived during the call */
    long scode;             /* of that AddError */
    unsigned short wcode;
    char descr[HOST_TEXT];
    char ret_problem[160]; /* "" unless a returned value was ill-formed */
};
/* "" when a call was refused as the platform expects: false, and an AddError with a non-zero scode,
 * a wcode of 1000..1009 and a description; otherwise what is missing. */
const char *refusal_problem(const struct outcome *r);
struct outcome set_prop_outcome(struct object *o, long prop, tVariant *val);
/* Calls a method (CallAsFunc if it has a return value, releasing it; else CallAsProc), then frees
 * any out-parameter the component replaced with memory from the manager, as the platform does. */
struct outcome call_outcome(struct object *o, long method, tVariant *params, long count);

/* Like call_outcome, but a function's return value is left in *ret for the caller to read and
 * variant_release (EMPTY for a procedure). */
struct outcome call_value(struct object *o, long method, tVariant *params, long count, tVariant *ret);

/* Checks that enumerate whatever properties and methods the component reports (generic.c). */
void run_generic_checks(struct object *o);

/* Checks for the add-in's own properties and methods (licence_checks.c). */
void run_licence_checks(struct object *a, struct object *b);

/* The licence scenario against real licence servers (scenario.c): `server` is "host:port". */
void run_licence_scenario(struct object *o, struct object *unreachable, const char *server);

/* Protected objects against real servers (objects.c): OpenObject through `o` (aimed at a recording
 * relay in front of a real server when LICENCE_OBJECT_RELAY is set), and through `fake`, aimed at a
 * server that grants everything and shows a stolen key file as its proof (LICENCE_FAKE_SERVER). */
void run_object_checks(struct object *o, struct object *fake, const char *server);

#endif
