// A C++ host built only from nativeapi.hpp: it loads the add-in with dlopen and drives it through
// real C++ virtual calls (the compiler adjusts `this` for each base), with its own memory manager and
// platform object. Prints one line per step; exits non-zero on the first failure.
#include "nativeapi.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
    std::printf("%s - %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) {
        failures++;
    }
}

const WCHAR_T* w(const char16_t* text) { return reinterpret_cast<const WCHAR_T*>(text); }

bool same(const WCHAR_T* a, const char16_t* b) {
    if (a == nullptr) {
        return false;
    }
    size_t i = 0;
    for (; b[i] != 0; i++) {
        if (a[i] != static_cast<WCHAR_T>(b[i])) {
            return false;
        }
    }
    return a[i] == 0;
}

class Memory : public IMemoryManager {
public:
    int live = 0;
    bool ADDIN_API AllocMemory(void** memory, unsigned long bytes) override {
        *memory = std::malloc(bytes);
        if (*memory != nullptr) {
            live++;
        }
        return *memory != nullptr;
    }
    void ADDIN_API FreeMemory(void** memory) override {
        if (*memory != nullptr) {
            std::free(*memory);
            live--;
            *memory = nullptr;
        }
    }
};

class Platform : public IAddInDefBase {
public:
    int errors = 0;
    bool ADDIN_API AddError(unsigned short, const WCHAR_T*, const WCHAR_T*, long) override {
        errors++;
        return true;
    }
    bool ADDIN_API Read(WCHAR_T*, tVariant*, void*, WCHAR_T**) override { return false; }
    bool ADDIN_API Write(WCHAR_T*, tVariant*) override { return false; }
    bool ADDIN_API RegisterProfileAs(WCHAR_T*) override { return false; }
    bool ADDIN_API SetEventBufferDepth(long) override { return true; }
    long ADDIN_API GetEventBufferDepth() override { return 1; }
    bool ADDIN_API ExternalEvent(WCHAR_T*, WCHAR_T*, WCHAR_T*) override { return true; }
    void ADDIN_API CleanEventBuffer() override {}
    bool ADDIN_API SetStatusLine(WCHAR_T*) override { return true; }
    void ADDIN_API ResetStatusLine() override {}
    void* ADDIN_API GetInterface(int) override { return nullptr; }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: virtual_calls path/to/liblicenceaddin.so\n");
        return 2;
    }
    void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    check(library != nullptr, "dlopen");
    if (library == nullptr) {
        return 1;
    }
    auto get_object = reinterpret_cast<GetClassObjectFn>(dlsym(library, "GetClassObject"));
    auto destroy = reinterpret_cast<DestroyObjectFn>(dlsym(library, "DestroyObject"));
    check(get_object != nullptr && destroy != nullptr, "the exports resolve");
    IComponentBase* object = nullptr;
    check(get_object(w(u"Licence"), &object) != 0 && object != nullptr, "GetClassObject(\"Licence\")");
    if (object == nullptr) {
        return 1;
    }
    Memory memory;
    Platform platform;
    check(object->Init(&platform), "Init (IInitDoneBase, this at +0)");
    check(object->setMemManager(&memory), "setMemManager");
    check(object->GetInfo() == 2000, "GetInfo() == 2000");
    WCHAR_T* name = nullptr;
    check(object->RegisterExtensionAs(&name) && same(name, u"Licence"), "RegisterExtensionAs (ILanguageExtenderBase, this at +8)");
    memory.FreeMemory(reinterpret_cast<void**>(&name));
    object->SetLocale(w(u"ru_RU"));
    object->SetUserInterfaceLanguageCode(w(u"ru"));
    check(true, "SetLocale and SetUserInterfaceLanguageCode (this at +16 and +24)");
    long version = object->FindProp(w(u"ВЕРСИЯ"));
    check(version >= 0 && version == object->FindProp(w(u"version")), "FindProp in both languages, any case");
    check(object->FindProp(w(u"NoSuchProperty")) == -1, "FindProp of an unknown name is -1");
    tVariant value;
    std::memset(&value, 0, sizeof value);
    check(object->GetPropVal(version, &value) && value.vt == VTYPE_PWSTR && value.wstrLen > 0, "GetPropVal(Version) is a string");
    memory.FreeMemory(reinterpret_cast<void**>(&value.pwstrVal));
    long port = object->FindProp(w(u"ПортСервера"));
    tVariant text;
    std::memset(&text, 0, sizeof text);
    text.vt = VTYPE_PWSTR;
    text.pwstrVal = const_cast<WCHAR_T*>(w(u"порт"));
    text.wstrLen = 4;
    check(!object->SetPropVal(port, &text) && platform.errors == 1, "a wrong type is refused through AddError");
    long reset = object->FindMethod(w(u"сброситьошибку"));
    check(reset >= 0 && object->GetNParams(reset) == 0 && object->CallAsProc(reset, nullptr, 0), "CallAsProc(ResetError)");
    object->Done();
    check(destroy(&object) == 0 && object == nullptr, "DestroyObject");
    check(memory.live == 0, "every block handed over was freed");
    std::printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
