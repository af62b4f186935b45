/*  logger_store - the logger's event store: one interface, several engines

    Handlers and the dispatcher talk to this class only. It holds the
    engine picked at start by the --store URL (a table of functions, like
    SQLite's VFS or CivetWeb's callbacks) and the engine's own object, and
    forwards each call. Adding an engine means writing its class and a
    branch in logger_store_new.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "logger_store.h"
#include "logger_store_memory.h"
#include "logger_store_pg.h"
#include "enp_log.h"

struct _logger_store_t {
    const logger_store_engine_t *engine;    //  the engine's operations
    void *engine_self;          //  the engine's object, owned
};

//  True when url is a libpq connection URI.
static int
s_is_postgresql (const char *url)
{
    return strncmp (url, "postgresql://", 13) == 0
        || strncmp (url, "postgres://", 11) == 0;
}

//  Return 1 if url names a store this build understands.
int
logger_store_url_valid (const char *url)
{
    assert (url);
    return strcmp (url, "memory") == 0 || s_is_postgresql (url);
}

//  Open the store url names.
logger_store_t *
logger_store_new (const char *url, const logger_store_options_t *options)
{
    assert (url && options);
    logger_store_t *self = (logger_store_t *) calloc (1, sizeof (logger_store_t));
    if (!self)
        return NULL;
    if (strcmp (url, "memory") == 0) {
        self->engine = logger_store_memory_engine ();
        self->engine_self = logger_store_memory_new (options);
    }
    else
    if (s_is_postgresql (url)) {
        self->engine = logger_store_pg_engine ();
        self->engine_self = logger_store_pg_new (url, options);
    }
    else
        //  Not echoed: a mistyped URL may still carry a password
        enp_log_error ("--store is not understood: use 'memory' or a"
                       " postgresql:// URI");
    if (!self->engine_self) {
        if (self->engine)
            enp_log_error ("the %s store cannot start", self->engine->name);
        logger_store_destroy (&self);
    }
    return self;
}

//  Close the store.
void
logger_store_destroy (logger_store_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    logger_store_t *self = *self_p;
    if (self->engine && self->engine_self)
        self->engine->destroy (&self->engine_self);
    free (self);
    *self_p = NULL;
}

const char *
logger_store_engine (logger_store_t *self)
{
    assert (self);
    return self->engine->name;
}

int
logger_store_durable (logger_store_t *self)
{
    assert (self);
    return self->engine->durable;
}

enp_status_t
logger_store_insert (logger_store_t *self, enp_event_t **event_p,
                     const char *key, enp_event_t **replay_p)
{
    assert (self);
    return self->engine->insert (self->engine_self, event_p, key, replay_p);
}

enp_status_t
logger_store_insert_many (logger_store_t *self, enp_event_t **events,
                          size_t count)
{
    assert (self);
    assert (events && count > 0);
    return self->engine->insert_many (self->engine_self, events, count);
}

enp_status_t
logger_store_get (logger_store_t *self, const char *event_id,
                  enp_event_t **event_p)
{
    assert (self);
    return self->engine->get (self->engine_self, event_id, event_p);
}

enp_status_t
logger_store_set_status (logger_store_t *self, const char *event_id,
                         const char *status, enp_event_t **event_p)
{
    assert (self);
    return self->engine->set_status (self->engine_self, event_id, status,
                                     event_p);
}

void
logger_store_set_status_many (logger_store_t *self,
                              logger_store_update_t *updates, size_t count)
{
    assert (self);
    assert (updates && count > 0);
    for (size_t index = 0; index < count; index++) {
        updates [index].result = ENP_EIO;
        updates [index].event = NULL;
    }
    if (self->engine->set_status_many) {
        self->engine->set_status_many (self->engine_self, updates, count);
        return;
    }
    //  An engine with no way to do better: one at a time
    for (size_t index = 0; index < count; index++)
        updates [index].result = self->engine->set_status (self->engine_self,
            updates [index].event_id, updates [index].status,
            &updates [index].event);
}

enp_status_t
logger_store_list (logger_store_t *self, const logger_store_query_t *query,
                   enp_event_t **items, size_t *count_p, char *next)
{
    assert (self);
    return self->engine->list (self->engine_self, query, items, count_p, next);
}

void
logger_store_stats (logger_store_t *self, logger_store_stats_t *stats)
{
    assert (self);
    memset (stats, 0, sizeof *stats);
    self->engine->stats (self->engine_self, stats);
}

enp_status_t
logger_store_claim (logger_store_t *self, enp_event_t **out, size_t max,
                    size_t *count_p)
{
    assert (self);
    *count_p = 0;
    return self->engine->claim (self->engine_self, out, max, count_p);
}

enp_status_t
logger_store_mark_sent (logger_store_t *self, enp_event_t *const *events,
                        size_t count)
{
    assert (self);
    return count? self->engine->mark_sent (self->engine_self, events, count)
                : ENP_OK;
}

enp_status_t
logger_store_release (logger_store_t *self, enp_event_t *const *events,
                      size_t count)
{
    assert (self);
    return count? self->engine->release (self->engine_self, events, count)
                : ENP_OK;
}

enp_status_t
logger_store_flush (logger_store_t *self)
{
    assert (self);
    return self->engine->flush (self->engine_self);
}

int64_t
logger_store_next_due (logger_store_t *self)
{
    assert (self);
    return self->engine->next_due (self->engine_self);
}

const char *
logger_store_problem (logger_store_t *self)
{
    assert (self);
    return self->engine->problem (self->engine_self);
}
