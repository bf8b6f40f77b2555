/* nativeapi.h: the 1C Native API for C, with every vtable spelled out. */
/* Generated from the licence-nativeapi crate (nativeapi/) by `cargo run -p licence-ffi-headers`; do not edit. */
#ifndef LICENCE_NATIVEAPI_H
#define LICENCE_NATIVEAPI_H

#include "nativeapi_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Itanium C++ ABI (Linux, g++/clang anywhere): two destructor slots; MSVC: one. The platform never
   calls them. Methods take the interface's own sub-object as `self`. */
#if defined(_MSC_VER)
#define NATIVEAPI_DESTRUCTOR_SLOTS void* destructor;
#define NATIVEAPI_FIRST_METHOD (1 * sizeof(void*))
#else
#define NATIVEAPI_DESTRUCTOR_SLOTS void* complete_destructor; void* deleting_destructor;
#define NATIVEAPI_FIRST_METHOD (2 * sizeof(void*))
#endif

typedef struct IComponentBase IComponentBase;

/* IMemoryManager: the platform implements it, the component calls it. */
typedef struct IMemoryManagerVtbl {
    NATIVEAPI_DESTRUCTOR_SLOTS
    bool (ADDIN_API *AllocMemory)(void* self, void** pMemory, unsigned long ulCountByte);
    void (ADDIN_API *FreeMemory)(void* self, void** pMemory);
} IMemoryManagerVtbl;

typedef struct IMemoryManager {
    const IMemoryManagerVtbl* vtbl;
} IMemoryManager;

NATIVEAPI_STATIC_ASSERT(offsetof(IMemoryManagerVtbl, AllocMemory) == NATIVEAPI_FIRST_METHOD, "methods of IMemoryManager follow the destructor slots");
NATIVEAPI_STATIC_ASSERT(sizeof(IMemoryManagerVtbl) == NATIVEAPI_FIRST_METHOD + 2 * sizeof(void*), "one slot per method of IMemoryManager");

/* IAddInDefBase: the platform implements it, the component calls it. */
typedef struct IAddInDefBaseVtbl {
    NATIVEAPI_DESTRUCTOR_SLOTS
    bool (ADDIN_API *AddError)(void* self, unsigned short wcode, const WCHAR_T* source, const WCHAR_T* descr, long scode);
    bool (ADDIN_API *Read)(void* self, WCHAR_T* wszPropName, tVariant* pVal, void* pErrCode, WCHAR_T** errDescriptor);
    bool (ADDIN_API *Write)(void* self, WCHAR_T* wszPropName, tVariant* pVar);
    bool (ADDIN_API *RegisterProfileAs)(void* self, WCHAR_T* wszProfileName);
    bool (ADDIN_API *SetEventBufferDepth)(void* self, long lDepth);
    long (ADDIN_API *GetEventBufferDepth)(void* self);
    bool (ADDIN_API *ExternalEvent)(void* self, WCHAR_T* wszSource, WCHAR_T* wszMessage, WCHAR_T* wszData);
    void (ADDIN_API *CleanEventBuffer)(void* self);
    bool (ADDIN_API *SetStatusLine)(void* self, WCHAR_T* wszStatusLine);
    void (ADDIN_API *ResetStatusLine)(void* self);
    void* (ADDIN_API *GetInterface)(void* self, int iface);
} IAddInDefBaseVtbl;

typedef struct IAddInDefBase {
    const IAddInDefBaseVtbl* vtbl;
} IAddInDefBase;

NATIVEAPI_STATIC_ASSERT(offsetof(IAddInDefBaseVtbl, AddError) == NATIVEAPI_FIRST_METHOD, "methods of IAddInDefBase follow the destructor slots");
NATIVEAPI_STATIC_ASSERT(sizeof(IAddInDefBaseVtbl) == NATIVEAPI_FIRST_METHOD + 11 * sizeof(void*), "one slot per method of IAddInDefBase");

/* IPlatformInfo: the platform implements it, the component calls it. */
typedef struct IPlatformInfoVtbl {
    const AppInfo* (ADDIN_API *GetPlatformInfo)(void* self);
} IPlatformInfoVtbl;

typedef struct IPlatformInfo {
    const IPlatformInfoVtbl* vtbl;
} IPlatformInfo;

NATIVEAPI_STATIC_ASSERT(offsetof(IPlatformInfoVtbl, GetPlatformInfo) == 0, "methods of IPlatformInfo open the vtable (no destructor)");
NATIVEAPI_STATIC_ASSERT(sizeof(IPlatformInfoVtbl) == 0 + 1 * sizeof(void*), "one slot per method of IPlatformInfo");

/* IInitDoneBase: the component implements it, the platform calls it. */
typedef struct IInitDoneBaseVtbl {
    NATIVEAPI_DESTRUCTOR_SLOTS
    bool (ADDIN_API *Init)(void* self, void* disp);
    bool (ADDIN_API *setMemManager)(void* self, void* mem);
    long (ADDIN_API *GetInfo)(void* self);
    void (ADDIN_API *Done)(void* self);
} IInitDoneBaseVtbl;

typedef struct IInitDoneBase {
    const IInitDoneBaseVtbl* vtbl;
} IInitDoneBase;

NATIVEAPI_STATIC_ASSERT(offsetof(IInitDoneBaseVtbl, Init) == NATIVEAPI_FIRST_METHOD, "methods of IInitDoneBase follow the destructor slots");
NATIVEAPI_STATIC_ASSERT(sizeof(IInitDoneBaseVtbl) == NATIVEAPI_FIRST_METHOD + 4 * sizeof(void*), "one slot per method of IInitDoneBase");

/* ILanguageExtenderBase: the component implements it, the platform calls it. */
typedef struct ILanguageExtenderBaseVtbl {
    NATIVEAPI_DESTRUCTOR_SLOTS
    bool (ADDIN_API *RegisterExtensionAs)(void* self, WCHAR_T** wsExtensionName);
    long (ADDIN_API *GetNProps)(void* self);
    long (ADDIN_API *FindProp)(void* self, const WCHAR_T* wsPropName);
    const WCHAR_T* (ADDIN_API *GetPropName)(void* self, long lPropNum, long lPropAlias);
    bool (ADDIN_API *GetPropVal)(void* self, long lPropNum, tVariant* pvarPropVal);
    bool (ADDIN_API *SetPropVal)(void* self, long lPropNum, tVariant* varPropVal);
    bool (ADDIN_API *IsPropReadable)(void* self, long lPropNum);
    bool (ADDIN_API *IsPropWritable)(void* self, long lPropNum);
    long (ADDIN_API *GetNMethods)(void* self);
    long (ADDIN_API *FindMethod)(void* self, const WCHAR_T* wsMethodName);
    const WCHAR_T* (ADDIN_API *GetMethodName)(void* self, long lMethodNum, long lMethodAlias);
    long (ADDIN_API *GetNParams)(void* self, long lMethodNum);
    bool (ADDIN_API *GetParamDefValue)(void* self, long lMethodNum, long lParamNum, tVariant* pvarParamDefValue);
    bool (ADDIN_API *HasRetVal)(void* self, long lMethodNum);
    bool (ADDIN_API *CallAsProc)(void* self, long lMethodNum, tVariant* paParams, long lSizeArray);
    bool (ADDIN_API *CallAsFunc)(void* self, long lMethodNum, tVariant* pvarRetValue, tVariant* paParams, long lSizeArray);
} ILanguageExtenderBaseVtbl;

typedef struct ILanguageExtenderBase {
    const ILanguageExtenderBaseVtbl* vtbl;
} ILanguageExtenderBase;

NATIVEAPI_STATIC_ASSERT(offsetof(ILanguageExtenderBaseVtbl, RegisterExtensionAs) == NATIVEAPI_FIRST_METHOD, "methods of ILanguageExtenderBase follow the destructor slots");
NATIVEAPI_STATIC_ASSERT(sizeof(ILanguageExtenderBaseVtbl) == NATIVEAPI_FIRST_METHOD + 16 * sizeof(void*), "one slot per method of ILanguageExtenderBase");

/* LocaleBase: the component implements it, the platform calls it. */
typedef struct LocaleBaseVtbl {
    NATIVEAPI_DESTRUCTOR_SLOTS
    void (ADDIN_API *SetLocale)(void* self, const WCHAR_T* loc);
} LocaleBaseVtbl;

typedef struct LocaleBase {
    const LocaleBaseVtbl* vtbl;
} LocaleBase;

NATIVEAPI_STATIC_ASSERT(offsetof(LocaleBaseVtbl, SetLocale) == NATIVEAPI_FIRST_METHOD, "methods of LocaleBase follow the destructor slots");
NATIVEAPI_STATIC_ASSERT(sizeof(LocaleBaseVtbl) == NATIVEAPI_FIRST_METHOD + 1 * sizeof(void*), "one slot per method of LocaleBase");

/* UserLanguageBase: the component implements it, the platform calls it. */
typedef struct UserLanguageBaseVtbl {
    NATIVEAPI_DESTRUCTOR_SLOTS
    void (ADDIN_API *SetUserInterfaceLanguageCode)(void* self, const WCHAR_T* lang);
} UserLanguageBaseVtbl;

typedef struct UserLanguageBase {
    const UserLanguageBaseVtbl* vtbl;
} UserLanguageBase;

NATIVEAPI_STATIC_ASSERT(offsetof(UserLanguageBaseVtbl, SetUserInterfaceLanguageCode) == NATIVEAPI_FIRST_METHOD, "methods of UserLanguageBase follow the destructor slots");
NATIVEAPI_STATIC_ASSERT(sizeof(UserLanguageBaseVtbl) == NATIVEAPI_FIRST_METHOD + 1 * sizeof(void*), "one slot per method of UserLanguageBase");

/* The component object: one vtable pointer per base, in this order. */
struct IComponentBase {
    const IInitDoneBaseVtbl* IInitDoneBase;
    const ILanguageExtenderBaseVtbl* ILanguageExtenderBase;
    const LocaleBaseVtbl* LocaleBase;
    const UserLanguageBaseVtbl* UserLanguageBase;
};
NATIVEAPI_STATIC_ASSERT(offsetof(IComponentBase, IInitDoneBase) == 0 * sizeof(void*), "IInitDoneBase sub-object");
NATIVEAPI_STATIC_ASSERT(offsetof(IComponentBase, ILanguageExtenderBase) == 1 * sizeof(void*), "ILanguageExtenderBase sub-object");
NATIVEAPI_STATIC_ASSERT(offsetof(IComponentBase, LocaleBase) == 2 * sizeof(void*), "LocaleBase sub-object");
NATIVEAPI_STATIC_ASSERT(offsetof(IComponentBase, UserLanguageBase) == 3 * sizeof(void*), "UserLanguageBase sub-object");

/* Exports (C calling convention) and their types for dlsym/GetProcAddress. */
const WCHAR_T* GetClassNames(void);
typedef const WCHAR_T* (*GetClassNamesFn)(void);
long GetClassObject(const WCHAR_T* wsName, IComponentBase** pIntf);
typedef long (*GetClassObjectFn)(const WCHAR_T* wsName, IComponentBase** pIntf);
long DestroyObject(IComponentBase** pIntf);
typedef long (*DestroyObjectFn)(IComponentBase** pIntf);
int SetPlatformCapabilities(int capabilities);
typedef int (*SetPlatformCapabilitiesFn)(int capabilities);
int GetAttachType(void);
typedef int (*GetAttachTypeFn)(void);

#ifdef __cplusplus
}
#endif

#endif /* LICENCE_NATIVEAPI_H */
