/* scenario.h: the helpers of the licence scenario (scenario.c) that the protected-object checks
 * (objects.c) share: endpoints, the environment, bounded sleeps, and calling the object by name.
 */
#ifndef SCENARIO_H
#define SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

struct endpoint {
    char host[64];
    int port;
    char text[80]; /* "host:port" */
};

/* "host:port" into *e; false when it is not that. */
bool parse_endpoint(const char *text, struct endpoint *e);
/* The environment variable as a number, or fallback when unset or not a number. */
long env_number(const char *name, long fallback);
void sleep_ms(long ms);
double now_seconds(void);
/* A loopback port where nothing listens (bound, then closed); 1 if none could be had. */
int dead_port(void);

/* "returned 0, AddError yes (wcode 1006, scode 1, "…")…" for messages. */
const char *outcome_text(const struct outcome *r);
bool set_string(struct object *o, const char *prop, const char *value);
bool set_number(struct object *o, const char *prop, int value);
/* A string property as UTF-8 (a small rotating pool), or "(unreadable: …)". */
const char *read_string(struct object *o, const char *prop);
/* A Boolean property: 1 true, 0 false, -1 when not a well-formed BOOL. */
int read_bool(struct object *o, const char *prop);
/* A number property, NAN when unreadable. */
double read_number(struct object *o, const char *prop);
/* Calls a function of the object by name; its BOOL result is in *result (-1 when not a BOOL). */
struct outcome call_bool(struct object *o, const char *method, tVariant *params, long count, int *result);
/* True, no AddError, a BOOL true result, well formed. */
bool succeeded(const struct outcome *r, int result);
/* Sets SeriesPublicKey to LICENCE_SERIES_PUBLIC_KEY (the 672B series' public key, which every licence
 * method needs); false when it is not given or the set failed. */
bool set_pin(struct object *o);
/* ObtainLicence(1, connection string, "1CV8C", computer, "Администратор", now as VTYPE_TM, EMPTY). */
struct outcome obtain(struct object *o, int *result);

#endif
