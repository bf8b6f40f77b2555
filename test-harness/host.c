/* host.c: the harness's IMemoryManager (with a block tracker) and IAddInDefBase. */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf16.h"

/* ---- IMemoryManager -------------------------------------------------------------------- */

static void never_called_dtor(void *self)
{
    (void)self;
    fprintf(stderr, "harness: the component called a host destructor slot\n");
    abort();
}

static struct host_memory *as_memory(void *self)
{
    return (struct host_memory *)self;
}

static abi_bool mem_alloc(void *self, void **p, unsigned long bytes)
{
    struct host_memory *m = as_memory(self);
    pthread_mutex_lock(&m->lock);
    abi_bool ok = 0;
    if (p && bytes > 0) {
        void *block = malloc(bytes);
        if (block) {
            if (m->n_blocks == m->cap_blocks) {
                m->cap_blocks = m->cap_blocks ? m->cap_blocks * 2 : 64;
                m->blocks = realloc(m->blocks, m->cap_blocks * sizeof *m->blocks);
                if (!m->blocks)
                    abort();
            }
            m->blocks[m->n_blocks++] = (struct block){block, bytes, true};
            *p = block;
            m->allocs++;
            ok = 1;
        }
    }
    if (!ok)
        m->failed_allocs++;
    pthread_mutex_unlock(&m->lock);
    return ok;
}

/* The newest record of p (an address may be reused after a free). */
static struct block *find_block(struct host_memory *m, const void *p)
{
    for (size_t i = m->n_blocks; i-- > 0;)
        if (m->blocks[i].ptr == p)
            return &m->blocks[i];
    return NULL;
}

static void mem_free(void *self, void **p)
{
    struct host_memory *m = as_memory(self);
    if (!p || !*p) {
        pthread_mutex_lock(&m->lock);
        m->null_frees++;
        pthread_mutex_unlock(&m->lock);
        return;
    }
    pthread_mutex_lock(&m->lock);
    struct block *b = find_block(m, *p);
    if (!b) {
        m->unknown_frees++;
    } else if (!b->live) {
        m->double_frees++;
    } else {
        b->live = false;
        m->frees++;
        free(b->ptr);
    }
    pthread_mutex_unlock(&m->lock);
    *p = NULL;
}

static const struct IMemoryManagerVtbl memory_vtbl = {
    .dtor_complete = never_called_dtor,
    .dtor_deleting = never_called_dtor,
    .AllocMemory = mem_alloc,
    .FreeMemory = mem_free,
};

void host_memory_init(struct host_memory *m)
{
    memset(m, 0, sizeof *m);
    m->vtbl = &memory_vtbl;
    pthread_mutex_init(&m->lock, NULL);
}

size_t host_memory_live(struct host_memory *m)
{
    pthread_mutex_lock(&m->lock);
    size_t n = 0;
    for (size_t i = 0; i < m->n_blocks; i++)
        n += m->blocks[i].live;
    pthread_mutex_unlock(&m->lock);
    return n;
}

unsigned long host_memory_block_size(struct host_memory *m, const void *p)
{
    pthread_mutex_lock(&m->lock);
    struct block *b = find_block(m, p);
    unsigned long bytes = b && b->live ? b->bytes : 0;
    pthread_mutex_unlock(&m->lock);
    return bytes;
}

void host_free(struct host_memory *m, void *p)
{
    m->vtbl->FreeMemory(m, &p);
}

void host_memory_dispose(struct host_memory *m)
{
    for (size_t i = 0; i < m->n_blocks; i++)
        if (m->blocks[i].live)
            free(m->blocks[i].ptr);
    free(m->blocks);
    pthread_mutex_destroy(&m->lock);
}

/* ---- IAddInDefBase ------------------------------------------------------------------- */

static struct host_connection *as_connection(void *self)
{
    return (struct host_connection *)self;
}

static abi_bool conn_add_error(void *self, unsigned short wcode, const WCHAR_T *source, const WCHAR_T *descr,
                               long scode)
{
    struct host_connection *c = as_connection(self);
    pthread_mutex_lock(&c->lock);
    c->errors++;
    c->last_wcode = wcode;
    c->last_scode = scode;
    u16_to_utf8(source, (size_t)-1, c->last_source, sizeof c->last_source);
    u16_to_utf8(descr, (size_t)-1, c->last_descr, sizeof c->last_descr);
    pthread_mutex_unlock(&c->lock);
    return 1;
}

static abi_bool conn_read(void *self, WCHAR_T *prop, tVariant *val, long *err_code, WCHAR_T **err_descr)
{
    (void)self, (void)prop, (void)val, (void)err_descr;
    if (err_code)
        *err_code = 0;
    return 0; /* the harness keeps no profile store */
}

static abi_bool conn_write(void *self, WCHAR_T *prop, tVariant *val)
{
    (void)self, (void)prop, (void)val;
    return 0;
}

static abi_bool conn_register_profile(void *self, WCHAR_T *profile)
{
    (void)self, (void)profile;
    return 1;
}

static abi_bool conn_set_event_depth(void *self, long depth)
{
    struct host_connection *c = as_connection(self);
    pthread_mutex_lock(&c->lock);
    c->event_depth = depth;
    pthread_mutex_unlock(&c->lock);
    return 1;
}

static long conn_get_event_depth(void *self)
{
    struct host_connection *c = as_connection(self);
    pthread_mutex_lock(&c->lock);
    long depth = c->event_depth;
    pthread_mutex_unlock(&c->lock);
    return depth;
}

static abi_bool conn_external_event(void *self, WCHAR_T *source, WCHAR_T *message, WCHAR_T *data)
{
    struct host_connection *c = as_connection(self);
    char s[HOST_TEXT / 4], msg[HOST_TEXT / 4], d[HOST_TEXT / 4];
    u16_to_utf8(source, (size_t)-1, s, sizeof s);
    u16_to_utf8(message, (size_t)-1, msg, sizeof msg);
    u16_to_utf8(data, (size_t)-1, d, sizeof d);
    pthread_mutex_lock(&c->lock);
    if (c->events < HOST_EVENTS)
        snprintf(c->event_log[c->events], sizeof c->event_log[0], "%s/%s/%s", s, msg, d);
    c->events++;
    snprintf(c->last_event, sizeof c->last_event, "%s/%s/%s", s, msg, d);
    pthread_mutex_unlock(&c->lock);
    return 1;
}

static void conn_clean_events(void *self)
{
    (void)self;
}

static abi_bool conn_set_status(void *self, WCHAR_T *status)
{
    struct host_connection *c = as_connection(self);
    (void)status;
    pthread_mutex_lock(&c->lock);
    c->status_lines++;
    pthread_mutex_unlock(&c->lock);
    return 1;
}

static void conn_reset_status(void *self)
{
    (void)self;
}

static void *conn_get_interface(void *self, int which)
{
    struct host_connection *c = as_connection(self);
    /* No IMsgBox or IAttachedInfo ever, IPlatformInfo only when offered: the component must cope. */
    return which == 1 ? c->platform_info : NULL;
}

static const struct AppInfo *platform_get_info(void *self)
{
    struct host_connection *c = (struct host_connection *)((char *)self - offsetof(struct host_connection, platform));
    pthread_mutex_lock(&c->lock);
    c->platform.calls++;
    pthread_mutex_unlock(&c->lock);
    return &c->platform.info;
}

static const struct IPlatformInfoVtbl platform_vtbl = {.GetPlatformInfo = platform_get_info};

void host_connection_offer_platform_info(struct host_connection *c, const char *version, int app_type)
{
    c->platform.vtbl = &platform_vtbl;
    c->platform.version = u16_from_utf8(version);
    c->platform.agent = u16_from_utf8("1C:Enterprise harness");
    c->platform.info.AppVersion = c->platform.version;
    c->platform.info.UserAgentInformation = c->platform.agent;
    c->platform.info.Application = app_type;
    c->platform_info = &c->platform;
}

static const struct IAddInDefBaseVtbl connection_vtbl = {
    .dtor_complete = never_called_dtor,
    .dtor_deleting = never_called_dtor,
    .AddError = conn_add_error,
    .Read = conn_read,
    .Write = conn_write,
    .RegisterProfileAs = conn_register_profile,
    .SetEventBufferDepth = conn_set_event_depth,
    .GetEventBufferDepth = conn_get_event_depth,
    .ExternalEvent = conn_external_event,
    .CleanEventBuffer = conn_clean_events,
    .SetStatusLine = conn_set_status,
    .ResetStatusLine = conn_reset_status,
    .GetInterface = conn_get_interface,
};

void host_connection_init(struct host_connection *c)
{
    memset(c, 0, sizeof *c);
    c->vtbl = &connection_vtbl;
    c->event_depth = 1;
    pthread_mutex_init(&c->lock, NULL);
}

void host_connection_dispose(struct host_connection *c)
{
    free(c->platform.version);
    free(c->platform.agent);
    pthread_mutex_destroy(&c->lock);
}

unsigned long host_errors(struct host_connection *c)
{
    pthread_mutex_lock(&c->lock);
    unsigned long n = c->errors;
    pthread_mutex_unlock(&c->lock);
    return n;
}

bool host_saw_event(struct host_connection *c, const char *source, const char *message, char *data, size_t cap)
{
    char prefix[HOST_TEXT];
    snprintf(prefix, sizeof prefix, "%s/%s/", source, message);
    size_t n = strlen(prefix);
    bool found = false;
    pthread_mutex_lock(&c->lock);
    for (unsigned long i = 0; i < c->events && i < HOST_EVENTS && !found; i++)
        if (strncmp(c->event_log[i], prefix, n) == 0) {
            found = true;
            if (data && cap)
                snprintf(data, cap, "%s", c->event_log[i] + n);
        }
    pthread_mutex_unlock(&c->lock);
    return found;
}
