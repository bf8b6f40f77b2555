/* host.h: the platform's side of the Native API, played by the harness.
 *
 * `host_memory` is an IMemoryManager that records every block the component allocates, so the
 * harness can tell that each block handed to the platform is freed exactly once, and can catch
 * double frees and frees of pointers it never allocated. `host_connection` is an IAddInDefBase
 * (with IAddInDefBaseEx's GetInterface) that records AddError calls and ExternalEvent calls, the
 * latter under a mutex because a component may raise events from its own threads.
 */
#ifndef HOST_H
#define HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "nativeapi.h"

struct block {
    void *ptr;
    unsigned long bytes;
    bool live;
};

struct host_memory {
    const struct IMemoryManagerVtbl *vtbl; /* first: this is what the component sees */
    pthread_mutex_t lock;
    struct block *blocks;
    size_t n_blocks, cap_blocks;
    unsigned long allocs, frees, double_frees, unknown_frees, null_frees, failed_allocs;
};

void host_memory_init(struct host_memory *m);
/* Frees whatever is still live (after reporting it) and the tracker itself. */
void host_memory_dispose(struct host_memory *m);
size_t host_memory_live(struct host_memory *m);
/* The size of the live block starting at p, or 0 when p is not a live block. */
unsigned long host_memory_block_size(struct host_memory *m, const void *p);
/* Frees p as the platform does (FreeMemory through the vtable) and sets it to NULL. */
void host_free(struct host_memory *m, void *p);

#define HOST_TEXT 512
#define HOST_EVENTS 16

struct host_connection {
    const struct IAddInDefBaseVtbl *vtbl; /* first: this is what the component sees */
    pthread_mutex_t lock;
    unsigned long errors;      /* AddError calls so far */
    unsigned short last_wcode; /* of the last AddError */
    long last_scode;
    char last_source[HOST_TEXT], last_descr[HOST_TEXT]; /* UTF-8 */
    unsigned long events;      /* ExternalEvent calls so far */
    char last_event[HOST_TEXT];
    char event_log[HOST_EVENTS][HOST_TEXT]; /* the first HOST_EVENTS events, "source/message/data" */
    long event_depth;
    unsigned long status_lines;
    /* What GetInterface(1) hands out: NULL (the default) or &platform below. */
    void *platform_info;
    struct {
        const struct IPlatformInfoVtbl *vtbl; /* first: this is what the component sees */
        struct AppInfo info;
        WCHAR_T *version, *agent;
        unsigned long calls;
    } platform;
};

void host_connection_init(struct host_connection *c);
void host_connection_dispose(struct host_connection *c);
/* From now on GetInterface(1) returns an IPlatformInfo telling `version` and `app_type`. */
void host_connection_offer_platform_info(struct host_connection *c, const char *version, int app_type);
/* Snapshot of the AddError counter, to tell whether a call reported an error. */
unsigned long host_errors(struct host_connection *c);
/* Whether an ExternalEvent(source, message, …) arrived (among the first HOST_EVENTS); its data goes
 * into data (UTF-8) when found. */
bool host_saw_event(struct host_connection *c, const char *source, const char *message, char *data, size_t cap);

#endif
