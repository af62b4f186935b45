/*  logger_store_memory - the in-memory store engine: fast, gone at exit

    The default store, and the fastest: many CivetWeb threads insert, read
    and update at once, and one dispatcher thread claims what to send, so
    one mutex guards everything and every critical section is a few
    pointer moves: copies for callers are made under the lock, allocation
    of new events and all I/O happen outside it. Deadlines are read from
    the monotonic clock, so a change of the wall clock moves none.

    Each event sits in a node that is linked into:
    - a hash index (czmq's zhashx) by event id, for O(1) lookups. It is
      split into 1,024 tables picked by the id's leading characters
      (random in a v4 UUID): a zhashx grows by rehashing all it holds at
      once, which at 200,000 events held the lock for ~50 ms. With 64
      tables the rehashes still bunched up (they fill evenly) into 27 ms
      stalls near 370,000 events; with 1,024 each is a few tens of
      microseconds and they spread out;
    - a second index by Idempotency-Key, for the events created with one;
    - the creation-order list, for listing with a cursor;
    - at most one delivery list, by status:
        pending    FIFO of events waiting for the broker;
        claimed    events the dispatcher is sending right now;
        inflight   "queued" events by send time; since the visibility
                   timeout is the same for all, that is deadline order, so
                   finding what is due never scans the store;
        processed  FIFO of processed events, the first to be evicted;
        failed     FIFO of failed events, evicted when no processed one
                   is left.
    Events with any other status (set by PATCH) are in none: nobody said
    they are done with, so they are never evicted.

    The store is bounded twice: in events (--max-events) and in bytes
    (--max-store-bytes), counting each event's strings plus what the node,
    the event and the index entries cost. Room is made by evicting
    processed events, oldest first, then failed ones; only when neither
    frees enough does an insert fail with ENP_EFULL (503 + Retry-After).
*/
#include <pthread.h>
#include <string.h>
#include <czmq.h>
#include "logger_store_memory.h"
#include "enp_time.h"

//  Listing stops after looking at this many events, so one request with a
//  rare filter cannot hold the lock for long; it returns a cursor instead.
#define S_LIST_SCAN_MAX 100000

//  Index tables; a power of two
#define S_INDEX_TABLES 1024

//  What an event costs beyond its strings: node, event, index entries and
//  allocator overhead (about 340 bytes measured with 1,000,000 held)
#define S_EVENT_OVERHEAD 384

typedef enum {
    S_LIST_NONE = 0, S_LIST_PENDING, S_LIST_CLAIMED, S_LIST_INFLIGHT,
    S_LIST_PROCESSED, S_LIST_FAILED, S_LIST_COUNT
} s_list_id_t;

typedef struct _s_node_t s_node_t;
struct _s_node_t {
    enp_event_t *event;         //  owned
    char *key;                  //  Idempotency-Key, owned, or NULL
    s_node_t *older, *newer;    //  creation-order list
    s_node_t *prev, *next;      //  delivery list named by list
    int64_t deadline;           //  monotonic ms at which a queued event is due
    uint32_t bytes;             //  what the event costs, see s_event_bytes
    uint8_t list;               //  s_list_id_t
};

typedef struct {
    s_node_t *head, *tail;      //  head is the oldest entry
    size_t size;                //  nodes in the list
    size_t bytes;               //  and their bytes
} s_list_t;

struct _logger_store_memory_t {
    pthread_mutex_t mutex;      //  guards everything below
    zhashx_t *index [S_INDEX_TABLES];   //  event id -> node; keys borrowed
    zhashx_t *keys;             //  Idempotency-Key -> node; keys borrowed
    s_node_t *oldest, *newest;  //  creation-order list
    s_list_t lists [S_LIST_COUNT];
    size_t size;                //  events held
    size_t bytes;               //  and their bytes
    logger_store_options_t options;     //  limits and timeouts
    uint64_t created_total, processed_total, failed_total;
    uint64_t redelivered_total, evicted_processed_total, evicted_failed_total;
};

//  Return what an event costs the store, in bytes.
static size_t
s_event_bytes (const enp_event_t *event, const char *key)
{
    return S_EVENT_OVERHEAD + strlen (enp_event_user_id (event))
         + strlen (enp_event_description (event)) + (key? strlen (key) + 1: 0);
}

//  Return the index table that holds (or would hold) this id.
static zhashx_t *
s_index (logger_store_memory_t *self, const char *event_id)
{
    //  Ids are canonical lowercase UUIDs: three hex digits, evenly spread
    unsigned int spread = 0;
    for (int digit = 0; digit < 3 && event_id [digit]; digit++) {
        char c = event_id [digit];
        spread = spread * 16 + (unsigned int) (c >= 'a'? c - 'a' + 10: c - '0');
    }
    return self->index [spread & (S_INDEX_TABLES - 1)];
}

//  Return the node holding this id, or NULL.
static s_node_t *
s_lookup (logger_store_memory_t *self, const char *event_id)
{
    return (s_node_t *) zhashx_lookup (s_index (self, event_id), event_id);
}

//  Append node to the tail of a delivery list.
static void
s_list_append (logger_store_memory_t *self, s_node_t *node, s_list_id_t id)
{
    s_list_t *list = &self->lists [id];
    node->list = (uint8_t) id;
    node->next = NULL;
    node->prev = list->tail;
    if (list->tail)
        list->tail->next = node;
    else
        list->head = node;
    list->tail = node;
    list->size++;
    list->bytes += node->bytes;
}

//  Put node at the head of a delivery list.
static void
s_list_prepend (logger_store_memory_t *self, s_node_t *node, s_list_id_t id)
{
    s_list_t *list = &self->lists [id];
    node->list = (uint8_t) id;
    node->prev = NULL;
    node->next = list->head;
    if (list->head)
        list->head->prev = node;
    else
        list->tail = node;
    list->head = node;
    list->size++;
    list->bytes += node->bytes;
}

//  Unlink node from whatever delivery list holds it.
static void
s_list_remove (logger_store_memory_t *self, s_node_t *node)
{
    if (node->list == S_LIST_NONE)
        return;
    s_list_t *list = &self->lists [node->list];
    if (node->prev)
        node->prev->next = node->next;
    else
        list->head = node->next;
    if (node->next)
        node->next->prev = node->prev;
    else
        list->tail = node->prev;
    list->size--;
    list->bytes -= node->bytes;
    node->prev = node->next = NULL;
    node->list = S_LIST_NONE;
}

//  Change a node's status and move it to the delivery list that matches.
static void
s_apply_status (logger_store_memory_t *self, s_node_t *node,
                const char *status, int64_t mono_now)
{
    int was_processed = enp_event_status_is (node->event, ENP_STATUS_PROCESSED);
    s_list_remove (self, node);
    enp_event_set_status (node->event, status, enp_time_now_ms ());
    if (strcmp (status, ENP_STATUS_PENDING) == 0)
        s_list_append (self, node, S_LIST_PENDING);
    else
    if (strcmp (status, ENP_STATUS_QUEUED) == 0) {
        node->deadline = mono_now + self->options.visibility_ms;
        s_list_append (self, node, S_LIST_INFLIGHT);
    }
    else
    if (strcmp (status, ENP_STATUS_PROCESSED) == 0) {
        s_list_append (self, node, S_LIST_PROCESSED);
        if (!was_processed)
            self->processed_total++;
    }
    else
    if (strcmp (status, ENP_STATUS_FAILED) == 0)
        s_list_append (self, node, S_LIST_FAILED);
}

//  Unlink a node from everything: indexes, creation list, delivery list.
//  It keeps its event; the caller frees both.
static void
s_node_unlink (logger_store_memory_t *self, s_node_t *node)
{
    s_list_remove (self, node);
    zhashx_delete (s_index (self, enp_event_id (node->event)),
                   enp_event_id (node->event));
    if (node->key)
        zhashx_delete (self->keys, node->key);
    if (node->older)
        node->older->newer = node->newer;
    else
        self->oldest = node->newer;
    if (node->newer)
        node->newer->older = node->older;
    else
        self->newest = node->older;
    self->bytes -= node->bytes;
    self->size--;
}

//  Drop a node entirely: indexes, creation list, delivery list, memory.
static void
s_node_drop (logger_store_memory_t *self, s_node_t *node)
{
    s_node_unlink (self, node);
    enp_event_destroy (&node->event);
    free (node->key);
    free (node);
}

//  True when count more events of this many bytes in all fit without
//  evicting.
static int
s_fits (logger_store_memory_t *self, size_t size, size_t bytes, size_t count,
        size_t more)
{
    return size + count <= self->options.max_events
        && bytes + more <= self->options.max_bytes;
}

//  Make room for count more events of this many bytes in all: evict
//  processed events, oldest first, then failed ones. Nothing is evicted
//  when that would not be enough. Returns ENP_OK or ENP_EFULL.
static enp_status_t
s_make_room (logger_store_memory_t *self, size_t count, size_t more)
{
    s_list_t *processed = &self->lists [S_LIST_PROCESSED];
    s_list_t *failed = &self->lists [S_LIST_FAILED];
    if (!s_fits (self, self->size - processed->size - failed->size,
                 self->bytes - processed->bytes - failed->bytes, count, more))
        return ENP_EFULL;
    while (!s_fits (self, self->size, self->bytes, count, more)) {
        if (processed->head) {
            s_node_drop (self, processed->head);
            self->evicted_processed_total++;
        }
        else {
            s_node_drop (self, failed->head);
            self->evicted_failed_total++;
        }
    }
    return ENP_OK;
}

//  Look up a key already in use. Returns ENP_OK with *replay_p set when
//  the stored event has event's body, ENP_EINVAL when it differs, or
//  ENP_ENOTFOUND when the key is new.
static enp_status_t
s_key_replay (logger_store_memory_t *self, const char *key,
              const enp_event_t *event, enp_event_t **replay_p)
{
    s_node_t *first = (s_node_t *) zhashx_lookup (self->keys, key);
    if (!first)
        return ENP_ENOTFOUND;
    if (strcmp (enp_event_user_id (first->event), enp_event_user_id (event))
    ||  strcmp (enp_event_description (first->event),
                enp_event_description (event)))
        return ENP_EINVAL;
    *replay_p = enp_event_dup (first->event);
    return *replay_p? ENP_OK: ENP_ENOMEM;
}

//  Link a new node for event in: indexes, creation list, pending list.
static enp_status_t
s_node_link (logger_store_memory_t *self, s_node_t *node, enp_event_t **event_p)
{
    if (zhashx_insert (s_index (self, enp_event_id (*event_p)),
                       enp_event_id (*event_p), node) != 0)
        return ENP_EINVAL;      //  Duplicate id: a UUID v4 never repeats
    if (node->key)
        zhashx_insert (self->keys, node->key, node);
    node->event = *event_p;
    *event_p = NULL;
    node->older = self->newest;
    if (self->newest)
        self->newest->newer = node;
    else
        self->oldest = node;
    self->newest = node;
    s_list_append (self, node, S_LIST_PENDING);
    self->size++;
    self->bytes += node->bytes;
    self->created_total++;
    return ENP_OK;
}

//  Return true when an event passes a listing filter.
static int
s_matches (const enp_event_t *event, const logger_store_query_t *query)
{
    if (query->status && !enp_event_status_is (event, query->status))
        return 0;
    if (query->user_id && strcmp (enp_event_user_id (event), query->user_id))
        return 0;
    return 1;
}

//  Create a store.
logger_store_memory_t *
logger_store_memory_new (const logger_store_options_t *options)
{
    assert (options);
    logger_store_memory_t *self =
        (logger_store_memory_t *) calloc (1, sizeof (logger_store_memory_t));
    if (!self)
        return NULL;
    pthread_mutex_init (&self->mutex, NULL);
    self->options = *options;
    for (int table = 0; table < S_INDEX_TABLES; table++) {
        self->index [table] = zhashx_new ();
        if (!self->index [table]) {
            logger_store_memory_destroy (&self);
            return NULL;
        }
        //  Keys are the ids inside the events the nodes own: no copies
        zhashx_set_key_duplicator (self->index [table], NULL);
        zhashx_set_key_destructor (self->index [table], NULL);
    }
    self->keys = zhashx_new ();
    if (!self->keys) {
        logger_store_memory_destroy (&self);
        return NULL;
    }
    zhashx_set_key_duplicator (self->keys, NULL);
    zhashx_set_key_destructor (self->keys, NULL);
    return self;
}

//  Destroy the store and every event in it.
void
logger_store_memory_destroy (logger_store_memory_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    logger_store_memory_t *self = *self_p;
    s_node_t *node = self->oldest;
    while (node) {
        s_node_t *newer = node->newer;
        enp_event_destroy (&node->event);
        free (node->key);
        free (node);
        node = newer;
    }
    zhashx_destroy (&self->keys);
    for (int table = 0; table < S_INDEX_TABLES; table++)
        zhashx_destroy (&self->index [table]);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

//  Insert a new pending event, evicting the oldest processed one if full.
static enp_status_t
s_insert (void *self_, enp_event_t **event_p, const char *key,
          enp_event_t **replay_p)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    assert (event_p && *event_p);
    s_node_t *node = (s_node_t *) calloc (1, sizeof (s_node_t));
    if (node && key)
        node->key = strdup (key);
    if (!node || (key && !node->key)) {
        free (node);
        return ENP_ENOMEM;
    }
    node->bytes = (uint32_t) s_event_bytes (*event_p, key);
    pthread_mutex_lock (&self->mutex);
    enp_status_t status = key? s_key_replay (self, key, *event_p, replay_p)
                             : ENP_ENOTFOUND;
    if (status == ENP_ENOTFOUND) {
        status = s_make_room (self, 1, node->bytes);
        if (status == ENP_OK)
            status = s_node_link (self, node, event_p);
        if (status == ENP_OK)
            node = NULL;
    }
    pthread_mutex_unlock (&self->mutex);
    if (node) {
        free (node->key);
        free (node);
    }
    return status;
}

//  Free nodes that were never linked in.
static void
s_nodes_free (s_node_t **nodes, size_t count)
{
    for (size_t index = 0; index < count; index++)
        free (nodes [index]);
    free (nodes);
}

//  Insert new pending events all together or none: room for all of them
//  is made (or refused) at once, and they are linked under one lock.
static enp_status_t
s_insert_many (void *self_, enp_event_t **events, size_t count)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    //  Nodes are allocated outside the lock, like a single insert's
    s_node_t **nodes = (s_node_t **) calloc (count, sizeof (s_node_t *));
    size_t made = 0, bytes = 0;
    while (nodes && made < count
       && (nodes [made] = (s_node_t *) calloc (1, sizeof (s_node_t)))) {
        nodes [made]->bytes = (uint32_t) s_event_bytes (events [made], NULL);
        bytes += nodes [made++]->bytes;
    }
    if (made < count) {
        s_nodes_free (nodes, made);
        return ENP_ENOMEM;
    }
    pthread_mutex_lock (&self->mutex);
    enp_status_t status = s_make_room (self, count, bytes);
    size_t linked = 0;
    while (status == ENP_OK && linked < count) {
        enp_event_t *event = events [linked];
        status = s_node_link (self, nodes [linked], &event);
        if (status == ENP_OK)
            linked++;
    }
    if (status != ENP_OK)
        //  A repeated id (a UUID v4 never repeats): take back what went
        //  in; the events are still the caller's
        while (linked-- > 0) {
            s_node_unlink (self, nodes [linked]);
            self->created_total--;
        }
    else
        for (size_t index = 0; index < count; index++) {
            events [index] = NULL;
            nodes [index] = NULL;
        }
    pthread_mutex_unlock (&self->mutex);
    s_nodes_free (nodes, count);
    return status;
}

//  Copy the event with this id.
static enp_status_t
s_get (void *self_, const char *event_id, enp_event_t **event_p)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    enp_status_t status = ENP_ENOTFOUND;
    pthread_mutex_lock (&self->mutex);
    s_node_t *node = s_lookup (self, event_id);
    if (node) {
        *event_p = enp_event_dup (node->event);
        status = *event_p? ENP_OK: ENP_ENOMEM;
    }
    pthread_mutex_unlock (&self->mutex);
    return status;
}

//  Set an event's status and copy the result into *event_p (NULL: no
//  copy). Call with the mutex held.
static enp_status_t
s_set_status_locked (logger_store_memory_t *self, const char *event_id,
                     const char *status, int64_t mono_now,
                     enp_event_t **event_p)
{
    assert (enp_event_status_valid (status));
    s_node_t *node = s_lookup (self, event_id);
    if (!node)
        return ENP_ENOTFOUND;
    //  A deliberate re-queue starts a new delivery generation, so
    //  processors print the event again (a timed-out redelivery keeps
    //  the generation and is not printed twice)
    if (strcmp (status, ENP_STATUS_PENDING) == 0)
        enp_event_set_generation (node->event,
                                  enp_event_generation (node->event) + 1);
    s_apply_status (self, node, status, mono_now);
    if (event_p) {
        *event_p = enp_event_dup (node->event);
        if (!*event_p)
            return ENP_ENOMEM;
    }
    return ENP_OK;
}

//  Set an event's status.
static enp_status_t
s_set_status (void *self_, const char *event_id, const char *status,
              enp_event_t **event_p)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    int64_t mono_now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    enp_status_t result = s_set_status_locked (self, event_id, status,
                                               mono_now, event_p);
    pthread_mutex_unlock (&self->mutex);
    return result;
}

//  Set many events' statuses under one lock.
static void
s_set_status_many (void *self_, logger_store_update_t *updates, size_t count)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    int64_t mono_now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    for (size_t index = 0; index < count; index++)
        updates [index].result = s_set_status_locked (self,
            updates [index].event_id, updates [index].status, mono_now,
            &updates [index].event);
    pthread_mutex_unlock (&self->mutex);
}

//  Copy a page of events, oldest first.
static enp_status_t
s_list (void *self_, const logger_store_query_t *query, enp_event_t **items,
        size_t *count_p, char *next)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    assert (query && items && count_p && next);
    enp_status_t status = ENP_OK;
    size_t count = 0;
    size_t scanned = 0;
    next [0] = '\0';
    pthread_mutex_lock (&self->mutex);
    s_node_t *node = self->oldest;
    if (query->after) {
        s_node_t *cursor = s_lookup (self, query->after);
        if (cursor)
            node = cursor->newer;
        else
            status = ENP_ENOTFOUND;
    }
    s_node_t *last = NULL;
    size_t bytes = 0;
    for (; status == ENP_OK && node && count < query->limit;
           node = node->newer) {
        if (++scanned > S_LIST_SCAN_MAX)
            break;              //  Hand back a cursor rather than hold the lock
        if (s_matches (node->event, query)) {
            //  The page is full when this one would go past the budget;
            //  it starts the next page
            size_t size = enp_event_encoded_size (node->event) + 1;
            if (query->max_bytes && count && bytes + size > query->max_bytes)
                break;
            items [count] = enp_event_dup (node->event);
            if (!items [count]) {
                status = ENP_ENOMEM;
                break;
            }
            count++;
            bytes += size;
        }
        last = node;
    }
    //  More may follow: the cursor is the last event looked at
    if (status == ENP_OK && node && last)
        snprintf (next, ENP_UUID_LEN + 1, "%s", enp_event_id (last->event));
    pthread_mutex_unlock (&self->mutex);
    *count_p = count;
    return status;
}

//  Fill stats with a consistent snapshot.
static void
s_stats (void *self_, logger_store_stats_t *stats)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    pthread_mutex_lock (&self->mutex);
    stats->total = self->size;
    stats->pending = self->lists [S_LIST_PENDING].size;
    stats->queued = self->lists [S_LIST_INFLIGHT].size;
    //  Claimed events are on their way: count them by their status
    for (s_node_t *node = self->lists [S_LIST_CLAIMED].head; node;
         node = node->next)
        if (enp_event_status_is (node->event, ENP_STATUS_PENDING))
            stats->pending++;
        else
            stats->queued++;
    stats->processed = self->lists [S_LIST_PROCESSED].size;
    stats->failed = self->lists [S_LIST_FAILED].size;
    stats->other = self->size - stats->pending - stats->queued
                 - stats->processed - stats->failed;
    stats->max_events = self->options.max_events;
    stats->max_bytes = self->options.max_bytes;
    stats->created_total = self->created_total;
    stats->processed_total = self->processed_total;
    stats->failed_total = self->failed_total;
    stats->redelivered_total = self->redelivered_total;
    stats->evicted_processed_total = self->evicted_processed_total;
    stats->evicted_failed_total = self->evicted_failed_total;
    stats->bytes = self->bytes;
    pthread_mutex_unlock (&self->mutex);
}

//  Lease the events due for delivery.
static enp_status_t
s_claim (void *self_, enp_event_t **out, size_t max, size_t *count_p)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    size_t count = 0;
    int64_t now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    s_node_t *node = self->lists [S_LIST_PENDING].head;
    while (node && count < max) {
        s_node_t *next = node->next;
        if ((out [count] = enp_event_dup (node->event))) {
            count++;
            s_list_remove (self, node);
            s_list_append (self, node, S_LIST_CLAIMED);
        }
        node = next;
    }
    node = self->lists [S_LIST_INFLIGHT].head;
    while (node && count < max && node->deadline <= now) {
        s_node_t *next = node->next;
        if (enp_event_attempts (node->event) >= self->options.max_attempts) {
            s_apply_status (self, node, ENP_STATUS_FAILED, now);
            self->failed_total++;
        }
        else
        if ((out [count] = enp_event_dup (node->event))) {
            count++;
            s_list_remove (self, node);
            s_list_append (self, node, S_LIST_CLAIMED);
        }
        node = next;
    }
    pthread_mutex_unlock (&self->mutex);
    *count_p = count;
    return ENP_OK;
}

//  Record that claimed events were handed to the broker.
static enp_status_t
s_mark_sent (void *self_, enp_event_t *const *events, size_t count)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    int64_t now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    for (size_t index = 0; index < count; index++) {
        s_node_t *node = s_lookup (self, enp_event_id (events [index]));
        if (!node)
            continue;
        //  The send happened either way, so it counts as an attempt; but a
        //  worker may have reported the event before we got here, and then
        //  its status must not go back to queued
        uint32_t attempts = enp_event_attempts (node->event) + 1;
        enp_event_set_attempts (node->event, attempts);
        if (attempts > 1)
            self->redelivered_total++;
        if (node->list == S_LIST_CLAIMED)
            s_apply_status (self, node, ENP_STATUS_QUEUED, now);
    }
    pthread_mutex_unlock (&self->mutex);
    return ENP_OK;
}

//  Give back claimed events that were not sent.
static enp_status_t
s_release (void *self_, enp_event_t *const *events, size_t count)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    int64_t now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    //  Back to the heads of their lists, last first, so the order they
    //  were claimed in is kept and they are the first due again
    for (size_t index = count; index-- > 0;) {
        s_node_t *node = s_lookup (self, enp_event_id (events [index]));
        if (!node || node->list != S_LIST_CLAIMED)
            continue;
        s_list_remove (self, node);
        if (enp_event_status_is (node->event, ENP_STATUS_PENDING))
            s_list_prepend (self, node, S_LIST_PENDING);
        else {
            node->deadline = now;
            s_list_prepend (self, node, S_LIST_INFLIGHT);
        }
    }
    pthread_mutex_unlock (&self->mutex);
    return ENP_OK;
}

//  Nothing is held back: every record is made at once.
static enp_status_t
s_flush (void *self_)
{
    (void) self_;
    return ENP_OK;
}

//  Return the ms until the next event falls due.
static int64_t
s_next_due (void *self_)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    int64_t due = INT64_MAX;
    int64_t now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    if (self->lists [S_LIST_PENDING].head)
        due = 0;
    else
    if (self->lists [S_LIST_INFLIGHT].head) {
        due = self->lists [S_LIST_INFLIGHT].head->deadline - now;
        if (due < 0)
            due = 0;
    }
    pthread_mutex_unlock (&self->mutex);
    return due;
}

//  Return why no event can be taken now, or NULL.
static const char *
s_problem (void *self_)
{
    logger_store_memory_t *self = (logger_store_memory_t *) self_;
    assert (self);
    //  Full when the largest event the API takes would not fit and
    //  nothing can be evicted
    size_t largest = S_EVENT_OVERHEAD + ENP_USER_ID_MAX + ENP_DESCRIPTION_MAX
                   + LOGGER_STORE_KEY_MAX + 1;
    pthread_mutex_lock (&self->mutex);
    int full = !s_fits (self, self->size, self->bytes, 1, largest)
            && self->lists [S_LIST_PROCESSED].size == 0
            && self->lists [S_LIST_FAILED].size == 0;
    pthread_mutex_unlock (&self->mutex);
    return full? "event store is full of unprocessed events": NULL;
}

static void
s_destroy (void **self_p)
{
    logger_store_memory_destroy ((logger_store_memory_t **) self_p);
}

//  Return the engine's operations.
const logger_store_engine_t *
logger_store_memory_engine (void)
{
    static const logger_store_engine_t engine = {
        .name = "memory",
        .durable = 0,
        .destroy = s_destroy,
        .insert = s_insert,
        .insert_many = s_insert_many,
        .get = s_get,
        .set_status = s_set_status,
        .set_status_many = s_set_status_many,
        .list = s_list,
        .stats = s_stats,
        .claim = s_claim,
        .mark_sent = s_mark_sent,
        .release = s_release,
        .flush = s_flush,
        .next_due = s_next_due,
        .problem = s_problem
    };
    return &engine;
}
