/* demo.c: the demo's 1C platform: loads liblicenceaddin.so as 1C does and plays what a configuration
 * writes in BSL — set the server, Подключиться, ПолучитьЛицензию, ПараметрКлюча, ПроверитьЛицензию,
 * then (while the licence is held) runs a command given on its command line, so scripts/demo.sh can
 * show the server's /api/sessions, and finally ОсвободитьЛицензию and DestroyObject.
 *
 * Usage: [LICENCE_SERIES_PUBLIC_KEY=HEX64] demo LIBRARY HOST PORT [COMMAND ARGS…]
 * LICENCE_SERIES_PUBLIC_KEY is the series' public key (the vendor's 672B.pub) that the configuration
 * pins in ОткрытыйКлючСерии: without it every licence method fails with code 16.
 * Exit codes: 0 done, 1 a call failed (its LastError is printed), 3 the add-in lacks the licence
 * methods.
 * It shares the harness's platform side (host.c, calls.c) and memory accounting (report.c).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "utf16.h"

#define USER_NAME "Администратор"

static struct object lic = {.label = "Лицензия"};

static void say(const char *bsl, const char *result)
{
    printf("  %s%s%s\n", bsl, *result ? " " : "", result);
}

static const char *show(const tVariant *v)
{
    static char buf[256];
    char text[200];
    switch (v->vt) {
    case VTYPE_EMPTY: return "Неопределено";
    case VTYPE_BOOL: return v->u.b ? "Истина" : "Ложь";
    case VTYPE_PWSTR:
        snprintf(buf, sizeof buf, "\"%s\"", v->u.buf.ptr ? u16_to_utf8(v->u.buf.ptr, v->u.buf.len, text, sizeof text) : "");
        return buf;
    case VTYPE_TM:
        strftime(buf, sizeof buf, "'%Y-%m-%d %H:%M:%S'", &v->u.tm);
        return buf;
    default: {
        double n;
        if (variant_number(v, &n)) {
            snprintf(buf, sizeof buf, "%g", n);
            return buf;
        }
        return variant_show(v, buf, sizeof buf);
    }
    }
}

static const char *prop_text(const char *name)
{
    static char buf[256];
    tVariant v;
    if (!get_prop(&lic, find_prop(&lic, name), &v))
        return "(unreadable)";
    snprintf(buf, sizeof buf, "%s", show(&v));
    variant_release(&v);
    return buf;
}

/* Stops the demo with the add-in's own error text, as a BSL Исключение would show it. */
static void fail(const char *what, const struct outcome *r)
{
    printf("  %s failed: %s\n", what, r->reported ? r->descr : "returned false");
    printf("  КодОшибки = %s, ОписаниеОшибки = %s\n", prop_text("КодОшибки"), prop_text("ОписаниеОшибки"));
    exit(1);
}

static void set_string(const char *prop, const char *value)
{
    tVariant v = variant_str(value);
    bool ok = set_prop(&lic, find_prop(&lic, prop), &v);
    variant_free_input(&v);
    say(fmt("Лицензия.%s = \"%s\";", prop, value), ok ? "" : "refused");
}

/* Calls a function by its Russian name and prints `Результат = Лицензия.Имя(…)`; exits on failure. */
static void call(const char *name, const char *shown_args, tVariant *params, long count)
{
    tVariant ret;
    struct outcome r = call_value(&lic, find_method(&lic, name), params, count, &ret);
    say(fmt("Лицензия.%s(%s)", name, shown_args), fmt("= %s", show(&ret)));
    variant_release(&ret);
    if (!r.returned)
        fail(name, &r);
}

static void key_parameter(const char *name)
{
    tVariant param = variant_str(name), ret;
    struct outcome r = call_value(&lic, find_method(&lic, "ПараметрКлюча"), &param, 1, &ret);
    variant_free_input(&param);
    say(fmt("Лицензия.ПараметрКлюча(\"%s\")", name), fmt("= %s", show(&ret)));
    variant_release(&ret);
    if (!r.returned)
        fail("ПараметрКлюча", &r);
}

static void run_while_held(char **argv)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: demo LIBRARY HOST PORT [COMMAND ARGS...]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    host_memory_init(&g_mem);
    host_connection_init(&lic.conn);

    printf("-- the platform loads the add-in: dlopen(\"%s\", RTLD_NOW|RTLD_LOCAL)\n", argv[1]);
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        printf("  dlopen failed: %s\n", dlerror());
        return 1;
    }
    SetPlatformCapabilities_fn caps = (SetPlatformCapabilities_fn)dlsym(lib, "SetPlatformCapabilities");
    GetClassNames_fn class_names = (GetClassNames_fn)dlsym(lib, "GetClassNames");
    GetClassObject_fn get_object = (GetClassObject_fn)dlsym(lib, "GetClassObject");
    DestroyObject_fn destroy = (DestroyObject_fn)dlsym(lib, "DestroyObject");
    if (!class_names || !get_object || !destroy) {
        printf("  the library lacks the Native API exports\n");
        return 1;
    }
    char text[256];
    printf("  SetPlatformCapabilities(3) = %d, GetClassNames() = \"%s\"\n", caps ? caps(3) : -1,
           u16_to_utf8(class_names(), (size_t)-1, text, sizeof text));

    WCHAR_T *name = u16_from_utf8(CLASS_NAME);
    long created = get_object(name, &lic.obj);
    free(name);
    if (!created || !lic.obj) {
        printf("  GetClassObject(\"%s\") failed\n", CLASS_NAME);
        return 1;
    }
    lic.obj->init_done->Init(INIT_DONE(&lic), &lic.conn);
    lic.obj->init_done->setMemManager(INIT_DONE(&lic), &g_mem);
    WCHAR_T *ext = NULL;
    LX(&lic)->RegisterExtensionAs(LANG_EXT(&lic), &ext);
    printf("  GetClassObject, Init, setMemManager, GetInfo() = %ld, RegisterExtensionAs -> \"%s\"\n",
           lic.obj->init_done->GetInfo(INIT_DONE(&lic)), u16_to_utf8(ext, (size_t)-1, text, sizeof text));
    if (ext)
        host_free(&g_mem, ext);
    WCHAR_T *locale = u16_from_utf8("ru_RU");
    lic.obj->locale->SetLocale(&lic.obj->locale, locale);
    free(locale);
    say("Лицензия = Новый(\"AddIn.Лицензирование.Licence\");", fmt("Версия = %s", prop_text("Версия")));

    const char *needed[] = {"Подключиться",  "ПолучитьЛицензию", "ПроверитьЛицензию",
                            "ОсвободитьЛицензию", "ПараметрКлюча"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (find_method(&lic, needed[i]) < 0) {
            printf("  the add-in has no method %s yet\n", needed[i]);
            return 3;
        }

    printf("-- the configuration's code (BSL) drives it\n");
    set_string("СерияКлючей", "672B");
    const char *pin = getenv("LICENCE_SERIES_PUBLIC_KEY");
    if (pin && *pin)
        set_string("ОткрытыйКлючСерии", pin);
    set_string("АдресСервера", argv[2]);
    tVariant port = variant_i4(atoi(argv[3]));
    say(fmt("Лицензия.ПортСервера = %s;", argv[3]),
        set_prop(&lic, find_prop(&lic, "ПортСервера"), &port) ? "" : "refused");
    call("Подключиться", "", NULL, 0);
    say("Лицензия.ИспользуемыйСервер", fmt("= %s", prop_text("ИспользуемыйСервер")));

    char host[128] = "demo-computer";
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    tVariant params[7];
    params[0] = variant_i4(1);
    params[1] = variant_str("File=\"/srv/demo\";");
    params[2] = variant_str("1CV8C");
    params[3] = variant_str(host);
    params[4] = variant_str(USER_NAME);
    params[5] = variant_empty();
    params[5].vt = VTYPE_TM;
    gmtime_r(&now, &params[5].u.tm);
    params[6] = variant_empty();
    call("ПолучитьЛицензию", fmt("1, \"File=\"\"/srv/demo\"\";\", \"1CV8C\", \"%s\", \"%s\", ТекущаяДата()", host, USER_NAME),
         params, 7);
    for (int i = 0; i < 7; i++)
        variant_free_input(&params[i]);
    say("Лицензия.ЛицензияПолучена", fmt("= %s", prop_text("ЛицензияПолучена")));
    const char *parameters[] = {"Продукт", "КоличествоЛицензий", "ИспользуетсяЛицензий", "ОсталосьДней",
                                "ДатаОкончания"};
    for (size_t i = 0; i < sizeof parameters / sizeof parameters[0]; i++)
        key_parameter(parameters[i]);
    call("ПроверитьЛицензию", "", NULL, 0);

    if (argc > 4) {
        printf("-- while the licence is held:\n");
        run_while_held(argv + 4);
    }

    printf("-- the session ends\n");
    call("ОсвободитьЛицензию", "", NULL, 0);
    say("Лицензия.ЛицензияПолучена", fmt("= %s", prop_text("ЛицензияПолучена")));

    lic.obj->init_done->Done(INIT_DONE(&lic));
    destroy(&lic.obj);
    size_t live = host_memory_live(&g_mem);
    printf("-- Done, DestroyObject: %lu block(s) handed to the platform, %zu left unfreed\n", g_mem.allocs, live);
    host_connection_dispose(&lic.conn);
    dlclose(lib);
    host_memory_dispose(&g_mem);
    return live == 0 ? 0 : 1;
}
