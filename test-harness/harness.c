/* harness.c: loads liblicenceaddin.so exactly as the 1C platform does and checks its ABI and behaviour.
 *
 * Usage: harness [path/to/liblicenceaddin.so]
 *
 * The harness plays the platform: dlopen(RTLD_NOW|RTLD_LOCAL), the optional exports, two objects
 * created and initialised in the two orders hosts use (Init before setMemManager and after), the
 * calls of nativeapi/README.md in the platform's order, then Done and DestroyObject. Each check prints
 * `ok - name` or `FAIL - name: detail`; the last line is `N passed, N failed`; the exit code is 0
 * only when nothing failed. If the component kills the process, a signal handler names the step.
 * With LICENCE_SERVER=host:port in the environment it also plays the licence scenario against real
 * servers (scenario.c), and with LICENCE_OBJECTS=DIR too it opens protected objects (objects.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "utf16.h"

#define DEFAULT_LIBRARY "target/debug/liblicenceaddin.so"

/* ---- the library ------------------------------------------------------------------------- */

struct library {
    void *handle;
    GetClassNames_fn get_class_names;
    GetClassObject_fn get_class_object;
    DestroyObject_fn destroy_object;
    SetPlatformCapabilities_fn set_platform_capabilities;
    GetAttachType_fn get_attach_type;
};

static bool load_exports(struct library *lib, const char *path)
{
    set_context("dlopen");
    lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!check(lib->handle != NULL, fmt("dlopen(%s, RTLD_NOW|RTLD_LOCAL)", path), "%s", dlerror()))
        return false;
    struct {
        const char *name;
        void **slot;
    } exports[] = {
        {"GetClassNames", (void **)&lib->get_class_names},
        {"GetClassObject", (void **)&lib->get_class_object},
        {"DestroyObject", (void **)&lib->destroy_object},
        {"SetPlatformCapabilities", (void **)&lib->set_platform_capabilities},
        {"GetAttachType", (void **)&lib->get_attach_type},
    };
    for (size_t i = 0; i < sizeof exports / sizeof exports[0]; i++) {
        *exports[i].slot = dlsym(lib->handle, exports[i].name);
        check(*exports[i].slot != NULL, fmt("export %s present", exports[i].name), "dlsym: %s", dlerror());
    }
    return lib->get_class_names && lib->get_class_object && lib->destroy_object;
}

static void check_library_queries(struct library *lib)
{
    if (lib->set_platform_capabilities) {
        set_context("SetPlatformCapabilities");
        int caps = lib->set_platform_capabilities(3);
        check(caps == 3, "SetPlatformCapabilities(3) returns 3", "returned %d", caps);
    }
    if (lib->get_attach_type) {
        set_context("GetAttachType");
        int type = lib->get_attach_type();
        check(type >= 1 && type <= 3, "GetAttachType returns 1, 2 or 3", "returned %d", type);
    }
    set_context("GetClassNames");
    const WCHAR_T *names = lib->get_class_names();
    char text[256];
    u16_to_utf8(names, (size_t)-1, text, sizeof text);
    bool found = false;
    for (char *save = NULL, *tok = names ? strtok_r(text, "|", &save) : NULL; tok; tok = strtok_r(NULL, "|", &save))
        found |= strcmp(tok, CLASS_NAME) == 0;
    check(found, "GetClassNames lists \"" CLASS_NAME "\"", "returned \"%s\"",
          u16_to_utf8(names, (size_t)-1, text, sizeof text));
    check(names && host_memory_block_size(&g_mem, names) == 0 && lib->get_class_names() == names,
          "GetClassNames returns the same static string (never freed by the platform)",
          "a different or manager-allocated pointer on the second call");

    const char *unknown[] = {"Licenc", "LicenceX", "Licence|Licence", "", "NoSuchClass"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        set_context("GetClassObject with an unknown name");
        WCHAR_T *name = u16_from_utf8(unknown[i]);
        component *out = NULL;
        long r = lib->get_class_object(name, &out);
        free(name);
        check(r == 0 && out == NULL, fmt("GetClassObject(\"%s\") fails and leaves *out NULL", unknown[i]),
              "returned %ld, *out %p", r, (void *)out);
        if (out) /* do not leak what should not exist */
            lib->destroy_object(&out);
    }
    set_context("GetClassObject(NULL)");
    component *out = NULL;
    long r = lib->get_class_object(NULL, &out);
    check(r == 0 && out == NULL, "GetClassObject(NULL name) fails and leaves *out NULL", "returned %ld", r);
}

/* ---- object lifecycle --------------------------------------------------------------------- */

static bool vtables_complete(const component *c)
{
    if (!c->init_done || !c->lang_ext || !c->locale || !c->user_language)
        return false;
    /* every method slot after the two destructor slots must be callable */
    const void *const *groups[] = {(const void *const *)c->init_done, (const void *const *)c->lang_ext,
                                   (const void *const *)c->locale, (const void *const *)c->user_language};
    size_t slots[] = {sizeof *c->init_done, sizeof *c->lang_ext, sizeof *c->locale, sizeof *c->user_language};
    for (size_t g = 0; g < 4; g++)
        for (size_t s = 2; s < slots[g] / sizeof(void *); s++)
            if (!groups[g][s])
                return false;
    return true;
}

static bool create_object(struct library *lib, struct object *o, bool init_first)
{
    set_context(fmt("GetClassObject(\"%s\") for %s", CLASS_NAME, o->label));
    host_connection_init(&o->conn);
    if (o->platform_version)
        host_connection_offer_platform_info(&o->conn, o->platform_version, o->app_type);
    WCHAR_T *name = u16_from_utf8(CLASS_NAME);
    o->obj = NULL;
    long r = lib->get_class_object(name, &o->obj);
    free(name);
    if (!check(r != 0 && o->obj != NULL, fmt("%s: GetClassObject(\"%s\") succeeds", o->label, CLASS_NAME),
               "returned %ld, *out %p", r, (void *)o->obj))
        return false;
    if (!check(vtables_complete(o->obj), fmt("%s: four vtables with every method slot filled", o->label),
               "a vtable pointer or method slot is NULL")) {
        lib->destroy_object(&o->obj);
        o->obj = NULL;
        return false;
    }

    const struct IInitDoneBaseVtbl *id = o->obj->init_done;
    bool init_ok, mem_ok;
    set_context(fmt("Init/setMemManager of %s", o->label));
    if (init_first) {
        init_ok = from_abi(id->Init(INIT_DONE(o), &o->conn), "Init");
        mem_ok = from_abi(id->setMemManager(INIT_DONE(o), &g_mem), "setMemManager");
    } else {
        mem_ok = from_abi(id->setMemManager(INIT_DONE(o), &g_mem), "setMemManager");
        init_ok = from_abi(id->Init(INIT_DONE(o), &o->conn), "Init");
    }
    const char *order = init_first ? "Init then setMemManager" : "setMemManager then Init";
    check(init_ok && mem_ok, fmt("%s: %s both return true", o->label, order), "Init %d, setMemManager %d",
          init_ok, mem_ok);

    set_context(fmt("GetInfo of %s", o->label));
    long info = id->GetInfo(INIT_DONE(o));
    check(info == 2000, fmt("%s: GetInfo returns 2000", o->label), "returned %ld", info);

    set_context(fmt("RegisterExtensionAs of %s", o->label));
    WCHAR_T *ext = NULL;
    bool reg = from_abi(LX(o)->RegisterExtensionAs(LANG_EXT(o), &ext), "RegisterExtensionAs");
    char text[128];
    unsigned long block = ext ? host_memory_block_size(&g_mem, ext) : 0;
    check(reg && ext && strcmp(u16_to_utf8(ext, (size_t)-1, text, sizeof text), CLASS_NAME) == 0,
          fmt("%s: RegisterExtensionAs returns \"%s\"", o->label, CLASS_NAME), "returned %d, \"%s\"", reg,
          u16_to_utf8(ext, (size_t)-1, text, sizeof text));
    check(ext && block >= (u16_len(ext) + 1) * sizeof(WCHAR_T),
          fmt("%s: RegisterExtensionAs name comes from the memory manager, NUL included", o->label),
          "block of %lu bytes", block);
    if (block)
        host_free(&g_mem, ext);
    bool reg_null = from_abi(LX(o)->RegisterExtensionAs(LANG_EXT(o), NULL), "RegisterExtensionAs");
    check(!reg_null, fmt("%s: RegisterExtensionAs(NULL) returns false", o->label), "returned true");

    set_context(fmt("SetLocale / SetUserInterfaceLanguageCode of %s", o->label));
    WCHAR_T *locale = u16_from_utf8("ru_RU"), *lang = u16_from_utf8("ru");
    o->obj->locale->SetLocale(&o->obj->locale, locale);
    o->obj->user_language->SetUserInterfaceLanguageCode(&o->obj->user_language, lang);
    free(locale);
    free(lang);
    check(true, fmt("%s: SetLocale(\"ru_RU\") and SetUserInterfaceLanguageCode(\"ru\") return", o->label), "-");
    return true;
}

static void destroy_object(struct library *lib, struct object *o)
{
    set_context(fmt("Done of %s", o->label));
    o->obj->init_done->Done(INIT_DONE(o));
    set_context(fmt("DestroyObject of %s", o->label));
    long r = lib->destroy_object(&o->obj);
    check(r == 0 && o->obj == NULL, fmt("%s: Done, then DestroyObject returns 0 and sets the pointer NULL", o->label),
          "returned %ld, pointer %p", r, (void *)o->obj);
}

/* Threads of this process, from /proc/self/task (-1 when unreadable). */
static long thread_count(void)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(dir));)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

static void check_destroy_robustness(struct library *lib)
{
    set_context("DestroyObject with a NULL object pointer");
    component *none = NULL;
    long r = lib->destroy_object(&none);
    set_context("DestroyObject(NULL)");
    long r_null = lib->destroy_object(NULL);
    check(none == NULL, "DestroyObject of a NULL object and DestroyObject(NULL) return without harm",
          "returned %ld and %ld", r, r_null);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : DEFAULT_LIBRARY;
    setvbuf(stdout, NULL, _IOLBF, 0);
    install_crash_report();
    host_memory_init(&g_mem);

    struct library lib;
    memset(&lib, 0, sizeof lib);
    if (!load_exports(&lib, path)) {
        host_memory_dispose(&g_mem);
        return summary();
    }
    check_library_queries(&lib);
    long threads_before = thread_count();

    struct object a = {.label = "object A"}, b = {.label = "object B"};
    bool a_ok = create_object(&lib, &a, true);
    bool b_ok = create_object(&lib, &b, false);
    check(!a_ok || !b_ok || a.obj != b.obj, "GetClassObject hands out a new object each time", "same pointer twice");

    if (a_ok)
        run_generic_checks(&a);
    if (b_ok)
        run_generic_checks(&b);
    if (a_ok && b_ok)
        run_licence_checks(&a, &b);

    if (a.obj)
        destroy_object(&lib, &a);
    if (b.obj)
        destroy_object(&lib, &b);

    /* A host whose IPlatformInfo says "server" (AppType 3, as in rphost): IsServer starts true. */
    struct object p = {.label = "server-process object", .platform_version = "8.3.25.1257", .app_type = 3};
    if (create_object(&lib, &p, true)) {
        set_context("IsServer under a server platform");
        tVariant v;
        bool read = get_prop(&p, find_prop(&p, "IsServer"), &v);
        check(read && v.vt == VTYPE_BOOL && v.u.b == 1 && p.conn.platform.calls > 0,
              "server-process object: IPlatformInfo is asked and AppType 3 makes IsServer true",
              "read %d, vt %u, value %d, GetPlatformInfo calls %lu", read, v.vt, v.u.b, p.conn.platform.calls);
        variant_release(&v);
    }
    if (p.obj)
        destroy_object(&lib, &p);

    /* With LICENCE_SERVER set (run.sh starts real servers), two more objects play the licence
     * scenario; they are destroyed before the thread count below, so the heartbeat must stop too. */
    const char *server = getenv("LICENCE_SERVER");
    struct object s = {.label = "scenario object", .platform_version = "8.3.25.1257", .app_type = 1}, u = {.label = "unreachable object"};
    if (server && *server) {
        bool s_ok = create_object(&lib, &s, true);
        bool u_ok = create_object(&lib, &u, false);
        if (s_ok && u_ok)
            run_licence_scenario(&s, &u, server);
        if (s.obj)
            destroy_object(&lib, &s);
        if (u.obj)
            destroy_object(&lib, &u);
    }
    /* With LICENCE_OBJECTS set too (run.sh packs datafiles), two more objects open protected objects:
     * one through the recording relay in front of a live server, one through the granting fake. */
    const char *objects = getenv("LICENCE_OBJECTS"), *reserved = getenv("LICENCE_RESERVED");
    struct object j = {.label = "objects object"}, f = {.label = "fake-server object"};
    bool with_objects = server && *server && objects && *objects;
    if (with_objects) {
        bool j_ok = create_object(&lib, &j, true);
        bool f_ok = create_object(&lib, &f, false);
        if (j_ok && f_ok)
            run_object_checks(&j, &f, reserved && *reserved ? reserved : server);
        if (j.obj)
            destroy_object(&lib, &j);
        if (f.obj)
            destroy_object(&lib, &f);
    }
    check_destroy_robustness(&lib);
    /* A joined thread can still be listed for a moment: pthread_join returns when the kernel clears the
     * thread's id at exit, a little before the task leaves /proc/self/task. So the count is awaited, for
     * at most a second; a thread that really outlives DestroyObject (a heartbeat sleeps for seconds) is
     * still there and fails the check. */
    long threads_after = thread_count();
    for (int i = 0; i < 100 && threads_after != threads_before; i++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
        threads_after = thread_count();
    }
    check(threads_after == threads_before, "no component thread outlives DestroyObject",
          "%ld thread(s) before GetClassObject, %ld after DestroyObject", threads_before, threads_after);
    set_context("final accounting");
    check_memory_and_abi();

    host_connection_dispose(&a.conn);
    host_connection_dispose(&b.conn);
    host_connection_dispose(&p.conn);
    if (server && *server) {
        host_connection_dispose(&s.conn);
        host_connection_dispose(&u.conn);
    }
    if (with_objects) {
        host_connection_dispose(&j.conn);
        host_connection_dispose(&f.conn);
    }
    set_context("dlclose");
    dlclose(lib.handle);
    host_memory_dispose(&g_mem);
    return summary();
}
