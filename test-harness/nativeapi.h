/* nativeapi.h: the 1C Native API as the platform sees it on Linux x86_64 (Itanium C++ ABI).
 *
 * Written by hand from the measured facts of nativeapi/README.md, not from any vendor header and not from the Rust
 * side: the harness is the independent witness of the binary interface. Every size and offset the
 * add-in must honour is pinned by a _Static_assert, so a wrong declaration here fails the build.
 *
 * Booleans returned across the boundary are declared as `abi_bool` (a raw byte): the x86_64 ABI
 * returns a C++ `bool` in %al, so reading it as uint8_t is binary-identical and lets the harness
 * check that the component really returns 0 or 1, which a C `_Bool` would silently assume.
 */
#ifndef NATIVEAPI_H
#define NATIVEAPI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef uint16_t WCHAR_T; /* one UTF-16 code unit on every OS; never wchar_t (4 bytes on Linux) */
typedef uint8_t abi_bool; /* a C++ bool as it crosses the boundary: one byte, 0 or 1 */

_Static_assert(sizeof(WCHAR_T) == 2, "WCHAR_T is a UTF-16 unit");
#if defined(__x86_64__)
_Static_assert(sizeof(long) == 8, "C long is 8 bytes on Linux x86_64");
_Static_assert(sizeof(void *) == 8, "pointers are 8 bytes on Linux x86_64");
#elif defined(__i386__)
_Static_assert(sizeof(long) == 4, "C long is 4 bytes on Linux i386");
_Static_assert(sizeof(void *) == 4, "pointers are 4 bytes on Linux i386");
#else
#error "the harness targets Linux x86_64 and i386"
#endif

/* ---- tVariant ----------------------------------------------------------------------------- */

enum vt_code {
    VTYPE_EMPTY = 0,
    VTYPE_NULL = 1,
    VTYPE_I2 = 2,
    VTYPE_I4 = 3,
    VTYPE_R4 = 4,
    VTYPE_R8 = 5,
    VTYPE_DATE = 6,
    VTYPE_TM = 7,
    VTYPE_PSTR = 8,
    VTYPE_ERROR = 10,
    VTYPE_BOOL = 11,
    VTYPE_I1 = 13,
    VTYPE_UI1 = 14,
    VTYPE_UI2 = 15,
    VTYPE_UI4 = 16,
    VTYPE_I8 = 17,
    VTYPE_UI8 = 18,
    VTYPE_PWSTR = 22,
    VTYPE_BLOB = 23,
};

/* A counted buffer: PSTR and BLOB (length in bytes) and PWSTR (length in UTF-16 units, no NUL). */
struct variant_buffer {
    void *ptr;    /* +0 */
    uint32_t len; /* +8 */
};

typedef struct tVariant {
    union {
        int8_t i1;
        int16_t i2;
        int32_t i4;
        int64_t i8;
        uint8_t ui1;
        uint16_t ui2;
        uint32_t ui4;
        uint64_t ui8;
        float r4;
        double r8;
        double date; /* OLE automation date */
        uint8_t b;   /* BOOL, raw byte */
        int32_t err;
        struct tm tm; /* the largest member: it sets the size of the variant */
        struct variant_buffer buf;
    } u;
    uint32_t cbElements; /* +56 */
    uint16_t vt;         /* +60, read as a raw u16 */
} tVariant;

_Static_assert(offsetof(tVariant, u.buf.ptr) == 0, "string pointer at +0");
#if defined(__x86_64__)
_Static_assert(sizeof(struct tm) == 56, "glibc struct tm is 56 bytes");
_Static_assert(sizeof(tVariant) == 64, "tVariant is 64 bytes on Linux x86_64");
_Static_assert(offsetof(tVariant, u.buf.len) == 8, "string length at +8");
_Static_assert(offsetof(tVariant, cbElements) == 56, "cbElements at +56");
_Static_assert(offsetof(tVariant, vt) == 60, "vt at +60");
#else /* i386: 8-byte scalars align to 4 inside structs (System V i386 ABI), so no padding */
_Static_assert(sizeof(struct tm) == 44, "glibc struct tm is 44 bytes on i386");
_Static_assert(sizeof(tVariant) == 52, "tVariant is 52 bytes on Linux i386");
_Static_assert(offsetof(tVariant, u.buf.len) == 4, "string length at +4");
_Static_assert(offsetof(tVariant, cbElements) == 44, "cbElements at +44");
_Static_assert(offsetof(tVariant, vt) == 48, "vt at +48");
#endif

/* ---- the component object: four interface sub-objects, each a vtable pointer --------------- */

/* Slots 0 and 1 of every Itanium vtable: complete and deleting destructors. Never called: the
 * platform releases objects through DestroyObject only. */
typedef void (*itanium_dtor)(void *self);

struct IInitDoneBaseVtbl {
    itanium_dtor dtor_complete;
    itanium_dtor dtor_deleting;
    abi_bool (*Init)(void *self, void *connection);
    abi_bool (*setMemManager)(void *self, void *mem);
    long (*GetInfo)(void *self);
    void (*Done)(void *self);
};

struct ILanguageExtenderBaseVtbl {
    itanium_dtor dtor_complete;
    itanium_dtor dtor_deleting;
    abi_bool (*RegisterExtensionAs)(void *self, WCHAR_T **name);
    long (*GetNProps)(void *self);
    long (*FindProp)(void *self, const WCHAR_T *name);
    const WCHAR_T *(*GetPropName)(void *self, long n, long alias);
    abi_bool (*GetPropVal)(void *self, long n, tVariant *val);
    abi_bool (*SetPropVal)(void *self, long n, tVariant *val);
    abi_bool (*IsPropReadable)(void *self, long n);
    abi_bool (*IsPropWritable)(void *self, long n);
    long (*GetNMethods)(void *self);
    long (*FindMethod)(void *self, const WCHAR_T *name);
    const WCHAR_T *(*GetMethodName)(void *self, long n, long alias);
    long (*GetNParams)(void *self, long method);
    abi_bool (*GetParamDefValue)(void *self, long method, long param, tVariant *val);
    abi_bool (*HasRetVal)(void *self, long method);
    abi_bool (*CallAsProc)(void *self, long method, tVariant *params, long count);
    abi_bool (*CallAsFunc)(void *self, long method, tVariant *ret, tVariant *params, long count);
};

struct LocaleBaseVtbl {
    itanium_dtor dtor_complete;
    itanium_dtor dtor_deleting;
    void (*SetLocale)(void *self, const WCHAR_T *locale);
};

struct UserLanguageBaseVtbl {
    itanium_dtor dtor_complete;
    itanium_dtor dtor_deleting;
    void (*SetUserInterfaceLanguageCode)(void *self, const WCHAR_T *code);
};

/* What GetClassObject hands out: a pointer to the first of four consecutive vtable pointers. Each
 * method is called with `self` = the address of its own interface's vtable pointer. */
typedef struct component {
    const struct IInitDoneBaseVtbl *init_done;         /* +0 */
    const struct ILanguageExtenderBaseVtbl *lang_ext;  /* +8 */
    const struct LocaleBaseVtbl *locale;               /* +16 */
    const struct UserLanguageBaseVtbl *user_language;  /* +24 */
} component;

_Static_assert(offsetof(component, init_done) == 0, "IInitDoneBase at +0");
_Static_assert(offsetof(component, lang_ext) == sizeof(void *), "ILanguageExtenderBase at +8 (i386: +4)");
_Static_assert(offsetof(component, locale) == 2 * sizeof(void *), "LocaleBase at +16 (i386: +8)");
_Static_assert(offsetof(component, user_language) == 3 * sizeof(void *), "UserLanguageBase at +24 (i386: +12)");
_Static_assert(offsetof(struct IInitDoneBaseVtbl, Init) == 2 * sizeof(void *), "methods start at slot 2");
_Static_assert(offsetof(struct ILanguageExtenderBaseVtbl, CallAsFunc) == 17 * sizeof(void *),
               "CallAsFunc is slot 17");

/* ---- the library's exports ---------------------------------------------------------------- */

typedef const WCHAR_T *(*GetClassNames_fn)(void);
typedef long (*GetClassObject_fn)(const WCHAR_T *name, component **out);
typedef long (*DestroyObject_fn)(component **obj);
typedef int (*SetPlatformCapabilities_fn)(int caps);
typedef int (*GetAttachType_fn)(void);

/* ---- the platform's side, implemented by the harness --------------------------------------- */

struct IMemoryManagerVtbl {
    itanium_dtor dtor_complete;
    itanium_dtor dtor_deleting;
    abi_bool (*AllocMemory)(void *self, void **p, unsigned long bytes);
    void (*FreeMemory)(void *self, void **p);
};

struct IAddInDefBaseVtbl {
    itanium_dtor dtor_complete;
    itanium_dtor dtor_deleting;
    abi_bool (*AddError)(void *self, unsigned short wcode, const WCHAR_T *source, const WCHAR_T *descr,
                         long scode);
    abi_bool (*Read)(void *self, WCHAR_T *prop, tVariant *val, long *err_code, WCHAR_T **err_descr);
    abi_bool (*Write)(void *self, WCHAR_T *prop, tVariant *val);
    abi_bool (*RegisterProfileAs)(void *self, WCHAR_T *profile);
    abi_bool (*SetEventBufferDepth)(void *self, long depth);
    long (*GetEventBufferDepth)(void *self);
    abi_bool (*ExternalEvent)(void *self, WCHAR_T *source, WCHAR_T *message, WCHAR_T *data);
    void (*CleanEventBuffer)(void *self);
    abi_bool (*SetStatusLine)(void *self, WCHAR_T *status);
    void (*ResetStatusLine)(void *self);
    void *(*GetInterface)(void *self, int which); /* IAddInDefBaseEx */
};

/* IPlatformInfo, GetInterface(1): a single slot, no destructor. Application: -1 unknown, 0 thin client,
 * 1 thick client, 2 web client, 3 server, 4 external connection, 5 mobile client, 6 mobile server. */
struct AppInfo {
    const WCHAR_T *AppVersion;
    const WCHAR_T *UserAgentInformation;
    int Application;
};

struct IPlatformInfoVtbl {
    const struct AppInfo *(*GetPlatformInfo)(void *self);
};

_Static_assert(offsetof(struct IAddInDefBaseVtbl, AddError) == 2 * sizeof(void *), "AddError is slot 2");
_Static_assert(offsetof(struct IAddInDefBaseVtbl, GetInterface) == 12 * sizeof(void *),
               "GetInterface is slot 12");

#endif
