// nativeapi.hpp: the 1C Native API for C++, as abstract classes.
// Generated from the licence-nativeapi crate (nativeapi/) by `cargo run -p licence-ffi-headers`; do not edit.
#ifndef LICENCE_NATIVEAPI_HPP
#define LICENCE_NATIVEAPI_HPP

#include "nativeapi_types.h"

class IMemoryManager {
public:
    virtual ~IMemoryManager() {}
    virtual bool ADDIN_API AllocMemory(void** pMemory, unsigned long ulCountByte) = 0;
    virtual void ADDIN_API FreeMemory(void** pMemory) = 0;
};

class IAddInDefBase {
public:
    virtual ~IAddInDefBase() {}
    virtual bool ADDIN_API AddError(unsigned short wcode, const WCHAR_T* source, const WCHAR_T* descr, long scode) = 0;
    virtual bool ADDIN_API Read(WCHAR_T* wszPropName, tVariant* pVal, void* pErrCode, WCHAR_T** errDescriptor) = 0;
    virtual bool ADDIN_API Write(WCHAR_T* wszPropName, tVariant* pVar) = 0;
    virtual bool ADDIN_API RegisterProfileAs(WCHAR_T* wszProfileName) = 0;
    virtual bool ADDIN_API SetEventBufferDepth(long lDepth) = 0;
    virtual long ADDIN_API GetEventBufferDepth() = 0;
    virtual bool ADDIN_API ExternalEvent(WCHAR_T* wszSource, WCHAR_T* wszMessage, WCHAR_T* wszData) = 0;
    virtual void ADDIN_API CleanEventBuffer() = 0;
    virtual bool ADDIN_API SetStatusLine(WCHAR_T* wszStatusLine) = 0;
    virtual void ADDIN_API ResetStatusLine() = 0;
    virtual void* ADDIN_API GetInterface(int iface) = 0;
};

class IPlatformInfo {
public:
    virtual const AppInfo* ADDIN_API GetPlatformInfo() = 0;

protected:
    ~IPlatformInfo() {}
};

class IInitDoneBase {
public:
    virtual ~IInitDoneBase() {}
    virtual bool ADDIN_API Init(void* disp) = 0;
    virtual bool ADDIN_API setMemManager(void* mem) = 0;
    virtual long ADDIN_API GetInfo() = 0;
    virtual void ADDIN_API Done() = 0;
};

class ILanguageExtenderBase {
public:
    virtual ~ILanguageExtenderBase() {}
    virtual bool ADDIN_API RegisterExtensionAs(WCHAR_T** wsExtensionName) = 0;
    virtual long ADDIN_API GetNProps() = 0;
    virtual long ADDIN_API FindProp(const WCHAR_T* wsPropName) = 0;
    virtual const WCHAR_T* ADDIN_API GetPropName(long lPropNum, long lPropAlias) = 0;
    virtual bool ADDIN_API GetPropVal(long lPropNum, tVariant* pvarPropVal) = 0;
    virtual bool ADDIN_API SetPropVal(long lPropNum, tVariant* varPropVal) = 0;
    virtual bool ADDIN_API IsPropReadable(long lPropNum) = 0;
    virtual bool ADDIN_API IsPropWritable(long lPropNum) = 0;
    virtual long ADDIN_API GetNMethods() = 0;
    virtual long ADDIN_API FindMethod(const WCHAR_T* wsMethodName) = 0;
    virtual const WCHAR_T* ADDIN_API GetMethodName(long lMethodNum, long lMethodAlias) = 0;
    virtual long ADDIN_API GetNParams(long lMethodNum) = 0;
    virtual bool ADDIN_API GetParamDefValue(long lMethodNum, long lParamNum, tVariant* pvarParamDefValue) = 0;
    virtual bool ADDIN_API HasRetVal(long lMethodNum) = 0;
    virtual bool ADDIN_API CallAsProc(long lMethodNum, tVariant* paParams, long lSizeArray) = 0;
    virtual bool ADDIN_API CallAsFunc(long lMethodNum, tVariant* pvarRetValue, tVariant* paParams, long lSizeArray) = 0;
};

class LocaleBase {
public:
    virtual ~LocaleBase() {}
    virtual void ADDIN_API SetLocale(const WCHAR_T* loc) = 0;
};

class UserLanguageBase {
public:
    virtual ~UserLanguageBase() {}
    virtual void ADDIN_API SetUserInterfaceLanguageCode(const WCHAR_T* lang) = 0;
};

class IComponentBase : public IInitDoneBase, public ILanguageExtenderBase, public LocaleBase, public UserLanguageBase {
public:
    virtual ~IComponentBase() {}
};

NATIVEAPI_STATIC_ASSERT(sizeof(IComponentBase) == 4 * sizeof(void*), "one vtable pointer per base");

extern "C" {
const WCHAR_T* GetClassNames();
typedef const WCHAR_T* (*GetClassNamesFn)();
long GetClassObject(const WCHAR_T* wsName, IComponentBase** pIntf);
typedef long (*GetClassObjectFn)(const WCHAR_T* wsName, IComponentBase** pIntf);
long DestroyObject(IComponentBase** pIntf);
typedef long (*DestroyObjectFn)(IComponentBase** pIntf);
int SetPlatformCapabilities(int capabilities);
typedef int (*SetPlatformCapabilitiesFn)(int capabilities);
int GetAttachType();
typedef int (*GetAttachTypeFn)();
}

#endif // LICENCE_NATIVEAPI_HPP
