/* nativeapi_types.h: scalars, constants, variant type codes and tVariant of the 1C Native API. */
/* Generated from the licence-nativeapi crate (nativeapi/) by `cargo run -p licence-ffi-headers`; do not edit. */
#ifndef LICENCE_NATIVEAPI_TYPES_H
#define LICENCE_NATIVEAPI_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#if defined(_WIN32) && !defined(_WIN64)
#define ADDIN_API __stdcall
#else
#define ADDIN_API
#endif

#ifdef __cplusplus
#define NATIVEAPI_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define NATIVEAPI_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* A UTF-16 code unit on every OS (wchar_t is 4 bytes on Linux: never use it). */
typedef uint16_t WCHAR_T;

/* Numbers that cross the boundary; never renumbered. */
#define NATIVEAPI_COMPONENT_INFO (2000)
#define NATIVEAPI_PLATFORM_CAPABILITIES (3)
#define NATIVEAPI_ATTACH_NOT_ISOLATED (1)
#define NATIVEAPI_ATTACH_ISOLATED (2)
#define NATIVEAPI_ATTACH_ANY (3)
#define NATIVEAPI_INTERFACE_MSG_BOX (0)
#define NATIVEAPI_INTERFACE_PLATFORM_INFO (1)
#define NATIVEAPI_INTERFACE_ATTACHED_INFO (2)
#define NATIVEAPI_APP_TYPE_UNKNOWN (-1)
#define NATIVEAPI_APP_TYPE_THIN_CLIENT (0)
#define NATIVEAPI_APP_TYPE_THICK_CLIENT (1)
#define NATIVEAPI_APP_TYPE_WEB_CLIENT (2)
#define NATIVEAPI_APP_TYPE_SERVER (3)
#define NATIVEAPI_APP_TYPE_EXT_CONNECTION (4)
#define NATIVEAPI_APP_TYPE_MOBILE_CLIENT (5)
#define NATIVEAPI_APP_TYPE_MOBILE_SERVER (6)
#define NATIVEAPI_ADDIN_E_NONE (1000)
#define NATIVEAPI_ADDIN_E_ORDINARY (1001)
#define NATIVEAPI_ADDIN_E_ATTENTION (1002)
#define NATIVEAPI_ADDIN_E_IMPORTANT (1003)
#define NATIVEAPI_ADDIN_E_VERY_IMPORTANT (1004)
#define NATIVEAPI_ADDIN_E_INFO (1005)
#define NATIVEAPI_ADDIN_E_FAIL (1006)
#define NATIVEAPI_ADDIN_E_MSGBOX_ATTENTION (1007)
#define NATIVEAPI_ADDIN_E_MSGBOX_INFO (1008)
#define NATIVEAPI_ADDIN_E_MSGBOX_FAIL (1009)

enum ENUMVAR {
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

typedef struct tVariant {
    union {
        int8_t i8Val;
        int16_t shortVal;
        int32_t lVal;
        int32_t intVal;
        uint32_t uintVal;
        int64_t llVal;
        uint8_t ui8Val;
        uint16_t ushortVal;
        uint32_t ulVal;
        uint64_t ullVal;
        int32_t errCode;
        float fltVal;
        double dblVal;
        bool bVal;
        char chVal;
        WCHAR_T wchVal;
        double date;
        struct tm tmVal;
        struct {
            char* pstrVal;
            uint32_t strLen; /* bytes */
        };
        struct {
            WCHAR_T* pwstrVal;
            uint32_t wstrLen; /* UTF-16 units, without the NUL */
        };
    };
    uint32_t cbElements;
    uint16_t vt;
} tVariant;

#if defined(__linux__) && defined(__x86_64__) /* Linux x86_64 */
NATIVEAPI_STATIC_ASSERT(sizeof(tVariant) == 64, "sizeof(tVariant) on Linux x86_64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, pwstrVal) == 0, "offsetof(tVariant, pwstrVal) on Linux x86_64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, pstrVal) == 0, "offsetof(tVariant, pstrVal) on Linux x86_64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, wstrLen) == 8, "offsetof(tVariant, wstrLen) on Linux x86_64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, strLen) == 8, "offsetof(tVariant, strLen) on Linux x86_64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, cbElements) == 56, "offsetof(tVariant, cbElements) on Linux x86_64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, vt) == 60, "offsetof(tVariant, vt) on Linux x86_64");
NATIVEAPI_STATIC_ASSERT(sizeof(struct tm) == 56, "sizeof(struct tm) on Linux x86_64");
#elif defined(__linux__) && defined(__i386__) /* Linux i386 */
NATIVEAPI_STATIC_ASSERT(sizeof(tVariant) == 52, "sizeof(tVariant) on Linux i386");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, pwstrVal) == 0, "offsetof(tVariant, pwstrVal) on Linux i386");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, pstrVal) == 0, "offsetof(tVariant, pstrVal) on Linux i386");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, wstrLen) == 4, "offsetof(tVariant, wstrLen) on Linux i386");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, strLen) == 4, "offsetof(tVariant, strLen) on Linux i386");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, cbElements) == 44, "offsetof(tVariant, cbElements) on Linux i386");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, vt) == 48, "offsetof(tVariant, vt) on Linux i386");
NATIVEAPI_STATIC_ASSERT(sizeof(struct tm) == 44, "sizeof(struct tm) on Linux i386");
#elif defined(_WIN64) /* Windows x64 */
NATIVEAPI_STATIC_ASSERT(sizeof(tVariant) == 48, "sizeof(tVariant) on Windows x64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, pwstrVal) == 0, "offsetof(tVariant, pwstrVal) on Windows x64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, pstrVal) == 0, "offsetof(tVariant, pstrVal) on Windows x64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, wstrLen) == 8, "offsetof(tVariant, wstrLen) on Windows x64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, strLen) == 8, "offsetof(tVariant, strLen) on Windows x64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, cbElements) == 40, "offsetof(tVariant, cbElements) on Windows x64");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, vt) == 44, "offsetof(tVariant, vt) on Windows x64");
NATIVEAPI_STATIC_ASSERT(sizeof(struct tm) == 36, "sizeof(struct tm) on Windows x64");
#elif defined(_WIN32) && !defined(_WIN64) /* Windows x86 */
NATIVEAPI_STATIC_ASSERT(sizeof(tVariant) == 48, "sizeof(tVariant) on Windows x86");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, pwstrVal) == 0, "offsetof(tVariant, pwstrVal) on Windows x86");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, pstrVal) == 0, "offsetof(tVariant, pstrVal) on Windows x86");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, wstrLen) == 4, "offsetof(tVariant, wstrLen) on Windows x86");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, strLen) == 4, "offsetof(tVariant, strLen) on Windows x86");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, cbElements) == 40, "offsetof(tVariant, cbElements) on Windows x86");
NATIVEAPI_STATIC_ASSERT(offsetof(tVariant, vt) == 44, "offsetof(tVariant, vt) on Windows x86");
NATIVEAPI_STATIC_ASSERT(sizeof(struct tm) == 36, "sizeof(struct tm) on Windows x86");
#endif
NATIVEAPI_STATIC_ASSERT(sizeof(WCHAR_T) == 2, "WCHAR_T is one UTF-16 unit");

/* IPlatformInfo::GetPlatformInfo's answer; Application is one of NATIVEAPI_APP_TYPE_*. */
typedef struct AppInfo {
    const WCHAR_T* AppVersion;
    const WCHAR_T* UserAgentInformation;
    int Application;
} AppInfo;

#endif /* LICENCE_NATIVEAPI_TYPES_H */
