/*  enp_store - the thread-safe in-memory event store, with delivery state

    The logger's single source of truth. Many CivetWeb threads insert, read
    and update at once, and one dispatcher thread asks what to send, so one
    mutex guards everything and every critical section is a few pointer
    moves: copies for callers are made under the lock, allocation of new
    events and all I/O happen outside it.

    Each event sits in a node that is linked into:
    - a hash index (czmq's zhashx) by event id, for O(1) lookups. It is
      split into 1,024 tables picked by the id's leading characters
      (random in a v4 UUID): a zhashx grows by rehashing all it holds at
      once, which at 200,000 events held the lock for ~50 ms. With 64
      tables the rehashes still bunched up (they fill evenly) into 27 ms
      stalls near 370,000 events; with 1,024 each is a few tens of
      microseconds and they spread out;
    - the creation-order list, for listing with a cursor;
    - at most one delivery list, by status:
        pending    FIFO of events waiting for the broker;
        inflight   "queued" events by send time; since the visibility
                   timeout is the same for all, that is deadline order, so
                   finding what is due never scans the store;
        processed  FIFO of processed events, the eviction order.
    Events with any other status (failed, or set by PATCH) are in none.
*/
#include <pthread.h>
#include <string.h>
#include <czmq.h>
#include "enp_store.h"
#include "enp_time.h"

//  Listing stops after looking at this many events, so one request with a
//  rare filter cannot hold the lock for long; it returns a cursor instead.
#define S_LIST_SCAN_MAX 100000

//  Index tables; a power of two
#define S_INDEX_TABLES 1024

typedef enum {
    S_LIST_NONE = 0, S_LIST_PENDING, S_LIST_INFLIGHT, S_LIST_PROCESSED,
    S_LIST_COUNT
} s_list_id_t;

typedef struct _s_node_t s_node_t;
struct _s_node_t {
    enp_event_t *event;         //  owned
    s_node_t *older, *newer;    //  creation-order list
    s_node_t *prev, *next;      //  delivery list named by list
    int64_t deadline;           //  monotonic ms at which a queued event is due
    uint8_t list;               //  s_list_id_t
};

typedef struct {
    s_node_t *head, *tail;      //  head is the oldest entry
    size_t size;
} s_list_t;

struct _enp_store_t {
    pthread_mutex_t mutex;      //  guards everything below
    zhashx_t *index [S_INDEX_TABLES];   //  event id -> node; keys borrowed
    s_node_t *oldest, *newest;  //  creation-order list
    s_list_t lists [S_LIST_COUNT];
    size_t size;                //  events held
    size_t failed;              //  events whose status is "failed"
    size_t max_events;
    int64_t visibility_ms;
    uint32_t max_attempts;
    uint64_t created_total, processed_total, failed_total;
    uint64_t redelivered_total, evicted_total;
};

//  Return the index table that holds (or would hold) this id.
static zhashx_t *
s_index (enp_store_t *self, const char *event_id)
{
    //  Ids are canonical lowercase UUIDs: three hex digits, evenly spread
    unsigned int spread = 0;
    for (int digit = 0; digit < 3 && event_id [digit]; digit++) {
        char c = event_id [digit];
        spread = spread * 16 + (unsigned int) (c >= 'a'? c - 'a' + 10: c - '0');
    }
    return self->index [spread & (S_INDEX_TABLES - 1)];
}

//  Append node to the tail of a delivery list.
static void
s_list_append (enp_store_t *self, s_node_t *node, s_list_id_t id)
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
}

//  Unlink node from whatever delivery list holds it.
static void
s_list_remove (enp_store_t *self, s_node_t *node)
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
    node->prev = node->next = NULL;
    node->list = S_LIST_NONE;
}

//  Change a node's status and move it to the delivery list that matches.
static void
s_apply_status (enp_store_t *self, s_node_t *node, const char *status,
                int64_t mono_now)
{
    int was_processed = enp_event_status_is (node->event, ENP_STATUS_PROCESSED);
    if (enp_event_status_is (node->event, ENP_STATUS_FAILED))
        self->failed--;
    s_list_remove (self, node);
    enp_event_set_status (node->event, status, enp_time_now_ms ());
    if (strcmp (status, ENP_STATUS_PENDING) == 0)
        s_list_append (self, node, S_LIST_PENDING);
    else
    if (strcmp (status, ENP_STATUS_QUEUED) == 0) {
        node->deadline = mono_now + self->visibility_ms;
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
        self->failed++;
}

//  Drop a node entirely: index, creation list, delivery list, memory.
static void
s_node_drop (enp_store_t *self, s_node_t *node)
{
    s_list_remove (self, node);
    if (enp_event_status_is (node->event, ENP_STATUS_FAILED))
        self->failed--;
    zhashx_delete (s_index (self, enp_event_id (node->event)),
                   enp_event_id (node->event));
    if (node->older)
        node->older->newer = node->newer;
    else
        self->oldest = node->newer;
    if (node->newer)
        node->newer->older = node->older;
    else
        self->newest = node->older;
    enp_event_destroy (&node->event);
    free (node);
    self->size--;
}

//  Return true when an event passes a listing filter.
static int
s_matches (const enp_event_t *event, const enp_store_query_t *query)
{
    if (query->status && !enp_event_status_is (event, query->status))
        return 0;
    if (query->user_id && strcmp (enp_event_user_id (event), query->user_id))
        return 0;
    return 1;
}

//  Create a store.
enp_store_t *
enp_store_new (size_t max_events, int64_t visibility_ms, uint32_t max_attempts)
{
    enp_store_t *self = (enp_store_t *) calloc (1, sizeof (enp_store_t));
    if (!self)
        return NULL;
    pthread_mutex_init (&self->mutex, NULL);
    for (int table = 0; table < S_INDEX_TABLES; table++) {
        self->index [table] = zhashx_new ();
        if (!self->index [table]) {
            enp_store_destroy (&self);
            return NULL;
        }
        //  Keys are the ids inside the events the nodes own: no copies
        zhashx_set_key_duplicator (self->index [table], NULL);
        zhashx_set_key_destructor (self->index [table], NULL);
    }
    self->max_events = max_events;
    self->visibility_ms = visibility_ms;
    self->max_attempts = max_attempts;
    return self;
}

//  Destroy the store and every event in it.
void
enp_store_destroy (enp_store_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    enp_store_t *self = *self_p;
    s_node_t *node = self->oldest;
    while (node) {
        s_node_t *newer = node->newer;
        enp_event_destroy (&node->event);
        free (node);
        node = newer;
    }
    for (int table = 0; table < S_INDEX_TABLES; table++)
        zhashx_destroy (&self->index [table]);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

//  Insert a new pending event, evicting the oldest processed one if full.
enp_status_t
enp_store_insert (enp_store_t *self, enp_event_t **event_p)
{
    assert (self);
    assert (event_p && *event_p);
    s_node_t *node = (s_node_t *) calloc (1, sizeof (s_node_t));
    if (!node)
        return ENP_ENOMEM;
    enp_status_t status = ENP_OK;
    pthread_mutex_lock (&self->mutex);
    if (self->size >= self->max_events) {
        s_node_t *victim = self->lists [S_LIST_PROCESSED].head;
        if (victim) {
            s_node_drop (self, victim);
            self->evicted_total++;
        }
        else
            status = ENP_EFULL;
    }
    if (status == ENP_OK
    &&  zhashx_insert (s_index (self, enp_event_id (*event_p)),
                       enp_event_id (*event_p), node) != 0)
        status = ENP_EINVAL;    //  Duplicate id: a UUID v4 never repeats
    if (status == ENP_OK) {
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
        self->created_total++;
    }
    pthread_mutex_unlock (&self->mutex);
    if (status != ENP_OK)
        free (node);
    return status;
}

//  Copy the event with this id.
enp_status_t
enp_store_get (enp_store_t *self, const char *event_id, enp_event_t **event_p)
{
    assert (self);
    enp_status_t status = ENP_ENOTFOUND;
    pthread_mutex_lock (&self->mutex);
    s_node_t *node = (s_node_t *) zhashx_lookup (s_index (self, event_id), event_id);
    if (node) {
        *event_p = enp_event_dup (node->event);
        status = *event_p? ENP_OK: ENP_ENOMEM;
    }
    pthread_mutex_unlock (&self->mutex);
    return status;
}

//  Set an event's status.
enp_status_t
enp_store_set_status (enp_store_t *self, const char *event_id,
                      const char *status, enp_event_t **event_p)
{
    assert (self);
    assert (enp_event_status_valid (status));
    enp_status_t result = ENP_ENOTFOUND;
    int64_t mono_now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    s_node_t *node = (s_node_t *) zhashx_lookup (s_index (self, event_id), event_id);
    if (node) {
        //  A deliberate re-queue starts a new delivery generation, so
        //  processors print the event again (a timed-out redelivery keeps
        //  the generation and is not printed twice)
        if (strcmp (status, ENP_STATUS_PENDING) == 0)
            enp_event_set_generation (node->event,
                                      enp_event_generation (node->event) + 1);
        s_apply_status (self, node, status, mono_now);
        result = ENP_OK;
        if (event_p) {
            *event_p = enp_event_dup (node->event);
            if (!*event_p)
                result = ENP_ENOMEM;
        }
    }
    pthread_mutex_unlock (&self->mutex);
    return result;
}

//  Copy a page of events, oldest first.
enp_status_t
enp_store_list (enp_store_t *self, const enp_store_query_t *query,
                enp_event_t **items, size_t *count_p, char *next)
{
    assert (self);
    assert (query && items && count_p && next);
    enp_status_t status = ENP_OK;
    size_t count = 0;
    size_t scanned = 0;
    next [0] = '\0';
    pthread_mutex_lock (&self->mutex);
    s_node_t *node = self->oldest;
    if (query->after) {
        s_node_t *cursor = (s_node_t *) zhashx_lookup (s_index (self, query->after),
                                                   query->after);
        if (cursor)
            node = cursor->newer;
        else
            status = ENP_ENOTFOUND;
    }
    s_node_t *last = NULL;
    for (; status == ENP_OK && node && count < query->limit;
           node = node->newer) {
        if (++scanned > S_LIST_SCAN_MAX)
            break;              //  Hand back a cursor rather than hold the lock
        last = node;
        if (!s_matches (node->event, query))
            continue;
        items [count] = enp_event_dup (node->event);
        if (!items [count]) {
            status = ENP_ENOMEM;
            break;
        }
        count++;
    }
    //  More may follow: the cursor is the last event looked at
    if (status == ENP_OK && node && last)
        snprintf (next, ENP_UUID_LEN + 1, "%s", enp_event_id (last->event));
    pthread_mutex_unlock (&self->mutex);
    *count_p = count;
    return status;
}

//  Fill stats with a consistent snapshot.
void
enp_store_stats (enp_store_t *self, enp_store_stats_t *stats)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    stats->total = self->size;
    stats->pending = self->lists [S_LIST_PENDING].size;
    stats->queued = self->lists [S_LIST_INFLIGHT].size;
    stats->processed = self->lists [S_LIST_PROCESSED].size;
    stats->failed = self->failed;
    stats->other = self->size - stats->pending - stats->queued
                 - stats->processed - stats->failed;
    stats->max_events = self->max_events;
    stats->created_total = self->created_total;
    stats->processed_total = self->processed_total;
    stats->failed_total = self->failed_total;
    stats->redelivered_total = self->redelivered_total;
    stats->evicted_total = self->evicted_total;
    pthread_mutex_unlock (&self->mutex);
}

//  Copy the events due for delivery.
size_t
enp_store_due (enp_store_t *self, int64_t now, enp_event_t **out, size_t max)
{
    assert (self);
    size_t count = 0;
    pthread_mutex_lock (&self->mutex);
    for (s_node_t *node = self->lists [S_LIST_PENDING].head;
         node && count < max; node = node->next)
        if ((out [count] = enp_event_dup (node->event)))
            count++;
    s_node_t *node = self->lists [S_LIST_INFLIGHT].head;
    while (node && count < max && node->deadline <= now) {
        s_node_t *next = node->next;
        if (enp_event_attempts (node->event) >= self->max_attempts) {
            s_apply_status (self, node, ENP_STATUS_FAILED, now);
            self->failed_total++;
        }
        else
        if ((out [count] = enp_event_dup (node->event)))
            count++;
        node = next;
    }
    pthread_mutex_unlock (&self->mutex);
    return count;
}

//  Record that the event was handed to the broker.
enp_status_t
enp_store_mark_sent (enp_store_t *self, const char *event_id, int64_t now)
{
    assert (self);
    enp_status_t status = ENP_ENOTFOUND;
    pthread_mutex_lock (&self->mutex);
    s_node_t *node = (s_node_t *) zhashx_lookup (s_index (self, event_id), event_id);
    if (node) {
        //  The send happened either way, so it counts as an attempt; but a
        //  worker may have reported the event before we got here, and then
        //  its status must not go back to queued
        uint32_t attempts = enp_event_attempts (node->event) + 1;
        enp_event_set_attempts (node->event, attempts);
        if (attempts > 1)
            self->redelivered_total++;
        status = ENP_EINVAL;
        if (node->list == S_LIST_PENDING || node->list == S_LIST_INFLIGHT) {
            s_apply_status (self, node, ENP_STATUS_QUEUED, now);
            status = ENP_OK;
        }
    }
    pthread_mutex_unlock (&self->mutex);
    return status;
}

//  Return the monotonic time at which the next event falls due.
int64_t
enp_store_next_due (enp_store_t *self)
{
    assert (self);
    int64_t due = INT64_MAX;
    pthread_mutex_lock (&self->mutex);
    if (self->lists [S_LIST_PENDING].head)
        due = 0;
    else
    if (self->lists [S_LIST_INFLIGHT].head)
        due = self->lists [S_LIST_INFLIGHT].head->deadline;
    pthread_mutex_unlock (&self->mutex);
    return due;
}
