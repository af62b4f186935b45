/*  test_broker_queue - the broker's bounded FIFO of messages
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include "broker_queue.h"
#include "enp_log.h"
#include "testkit.h"

#define S_BYTES (64 * 1024 * 1024)    //  a byte bound no case here reaches

//  A one-frame message holding text.
static zmsg_t *
s_msg (const char *text)
{
    zmsg_t *msg = zmsg_new ();
    ck_assert_ptr_nonnull (msg);
    zmsg_addstr (msg, text);
    return msg;
}

//  Pop a message and check its text; destroy it.
static void
s_pop_expect (broker_queue_t *queue, const char *text)
{
    zmsg_t *msg = broker_queue_pop (queue);
    ck_assert_ptr_nonnull (msg);
    char *first = zmsg_popstr (msg);
    ck_assert_str_eq (first, text);
    zstr_free (&first);
    zmsg_destroy (&msg);
}

//  Push a message that must fit.
static void
s_push (broker_queue_t *queue, const char *text)
{
    zmsg_t *msg = s_msg (text);
    ck_assert_int_eq (broker_queue_push (queue, &msg), ENP_OK);
    ck_assert_ptr_null (msg);
}

//  Usage: push, inspect, pop, put back, destroy.
START_TEST (test_broker_queue_usage)
{
    broker_queue_t *queue = broker_queue_new (2, S_BYTES);
    ck_assert_ptr_nonnull (queue);
    ck_assert_uint_eq (broker_queue_size (queue), 0);
    ck_assert (!broker_queue_full (queue));
    s_push (queue, "one");
    s_push (queue, "two");
    ck_assert_uint_eq (broker_queue_size (queue), 2);
    ck_assert (broker_queue_full (queue));
    zmsg_t *extra = s_msg ("three");
    ck_assert_int_eq (broker_queue_push (queue, &extra), ENP_EFULL);
    zmsg_destroy (&extra);
    zmsg_t *msg = broker_queue_pop (queue);
    ck_assert_ptr_nonnull (msg);
    ck_assert_int_eq (broker_queue_unpop (queue, &msg), ENP_OK);
    ck_assert_ptr_null (msg);
    s_pop_expect (queue, "one");
    s_pop_expect (queue, "two");
    ck_assert_ptr_null (broker_queue_pop (queue));
    broker_queue_destroy (&queue);
    ck_assert_ptr_null (queue);
    broker_queue_destroy (&queue);
}
END_TEST

//  The limit holds; the caller keeps a refused message.
START_TEST (test_broker_queue_limit)
{
    broker_queue_t *queue = broker_queue_new (3, S_BYTES);
    for (int index = 0; index < 3; index++) {
        ck_assert (!broker_queue_full (queue));
        s_push (queue, "x");
    }
    ck_assert (broker_queue_full (queue));
    for (int index = 0; index < 5; index++) {
        zmsg_t *msg = s_msg ("refused");
        zmsg_t *kept = msg;
        ck_assert_int_eq (broker_queue_push (queue, &msg), ENP_EFULL);
        ck_assert_ptr_eq (msg, kept);
        zmsg_destroy (&msg);
    }
    ck_assert_uint_eq (broker_queue_size (queue), 3);
    //  Room again after a pop
    zmsg_t *msg = broker_queue_pop (queue);
    zmsg_destroy (&msg);
    ck_assert (!broker_queue_full (queue));
    s_push (queue, "y");
    broker_queue_destroy (&queue);
}
END_TEST

//  A zero limit refuses everything.
START_TEST (test_broker_queue_zero_limit)
{
    broker_queue_t *queue = broker_queue_new (0, S_BYTES);
    ck_assert (broker_queue_full (queue));
    zmsg_t *msg = s_msg ("x");
    ck_assert_int_eq (broker_queue_push (queue, &msg), ENP_EFULL);
    zmsg_destroy (&msg);
    broker_queue_destroy (&queue);
}
END_TEST

//  The byte bound holds too, whatever the count limit: the message that
//  crosses it is the last one in, and popping gives the room back.
START_TEST (test_broker_queue_byte_limit)
{
    static char frame [1000];
    memset (frame, 'b', sizeof frame);
    broker_queue_t *queue = broker_queue_new (1000, 3000);
    ck_assert_uint_eq (broker_queue_bytes (queue), 0);
    int pushed = 0;
    while (!broker_queue_full (queue)) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addmem (msg, frame, sizeof frame);
        ck_assert_int_eq (broker_queue_push (queue, &msg), ENP_OK);
        pushed++;
        ck_assert_int_le (pushed, 4);
    }
    //  Each holds 1,000 bytes and 8 of packing: the 3rd crosses 3,000
    ck_assert_int_eq (pushed, 3);
    ck_assert_uint_eq (broker_queue_bytes (queue), 3 * (sizeof frame + 8));
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "small");
    ck_assert_int_eq (broker_queue_push (queue, &msg), ENP_EFULL);
    zmsg_destroy (&msg);
    msg = broker_queue_pop (queue);
    ck_assert_ptr_nonnull (msg);
    ck_assert_uint_eq (broker_queue_bytes (queue), 2 * (sizeof frame + 8));
    ck_assert (!broker_queue_full (queue));
    ck_assert_int_eq (broker_queue_unpop (queue, &msg), ENP_OK);
    ck_assert_uint_eq (broker_queue_bytes (queue), 3 * (sizeof frame + 8));
    while ((msg = broker_queue_pop (queue)))
        zmsg_destroy (&msg);
    ck_assert_uint_eq (broker_queue_bytes (queue), 0);
    broker_queue_destroy (&queue);
}
END_TEST

//  Messages come out in the order they went in.
START_TEST (test_broker_queue_fifo)
{
    broker_queue_t *queue = broker_queue_new (100, S_BYTES);
    for (int index = 0; index < 50; index++) {
        char text [16];
        snprintf (text, sizeof text, "m%d", index);
        s_push (queue, text);
    }
    for (int index = 0; index < 50; index++) {
        char text [16];
        snprintf (text, sizeof text, "m%d", index);
        s_pop_expect (queue, text);
    }
    ck_assert_ptr_null (broker_queue_pop (queue));
    ck_assert_uint_eq (broker_queue_size (queue), 0);
    broker_queue_destroy (&queue);
}
END_TEST

//  unpop puts a message back at the head, even past the limit.
START_TEST (test_broker_queue_unpop_head)
{
    broker_queue_t *queue = broker_queue_new (2, S_BYTES);
    s_push (queue, "a");
    s_push (queue, "b");
    zmsg_t *msg = broker_queue_pop (queue);
    s_push (queue, "c");
    ck_assert (broker_queue_full (queue));
    ck_assert_int_eq (broker_queue_unpop (queue, &msg), ENP_OK);
    ck_assert_ptr_null (msg);
    ck_assert_uint_eq (broker_queue_size (queue), 3);
    ck_assert (broker_queue_full (queue));
    zmsg_t *extra = s_msg ("d");
    ck_assert_int_eq (broker_queue_push (queue, &extra), ENP_EFULL);
    zmsg_destroy (&extra);
    s_pop_expect (queue, "a");
    s_pop_expect (queue, "b");
    s_pop_expect (queue, "c");
    broker_queue_destroy (&queue);
}
END_TEST

//  Messages are held whole: every frame, binary content included.
START_TEST (test_broker_queue_keeps_frames)
{
    broker_queue_t *queue = broker_queue_new (4, S_BYTES);
    zmsg_t *msg = zmsg_new ();
    const uint8_t binary [] = { 0, 1, 0xff, 0 };
    zmsg_addmem (msg, binary, sizeof binary);
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "text");
    ck_assert_int_eq (broker_queue_push (queue, &msg), ENP_OK);
    ck_assert_ptr_null (msg);               //  The queue took it
    msg = broker_queue_pop (queue);
    ck_assert_ptr_nonnull (msg);
    ck_assert_uint_eq (zmsg_size (msg), 3);
    zframe_t *frame = zmsg_first (msg);
    ck_assert_uint_eq (zframe_size (frame), sizeof binary);
    ck_assert_int_eq (memcmp (zframe_data (frame), binary, sizeof binary), 0);
    ck_assert_uint_eq (zframe_size (zmsg_next (msg)), 0);
    ck_assert (zframe_streq (zmsg_next (msg), "text"));
    //  Given back unsent, it comes out first and just the same
    ck_assert_int_eq (broker_queue_unpop (queue, &msg), ENP_OK);
    msg = broker_queue_pop (queue);
    ck_assert_uint_eq (zmsg_size (msg), 3);
    ck_assert_int_eq (memcmp (zframe_data (zmsg_first (msg)), binary, sizeof binary), 0);
    zmsg_destroy (&msg);
    ck_assert_ptr_null (broker_queue_pop (queue));
    broker_queue_destroy (&queue);
}
END_TEST

//  Destroying a queue frees the messages it holds (run under valgrind).
START_TEST (test_broker_queue_destroy_frees_messages)
{
    broker_queue_t *queue = broker_queue_new (1000, S_BYTES);
    for (int index = 0; index < 500; index++) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "frame one");
        zmsg_addmem (msg, "frame two", 9);
        ck_assert_int_eq (broker_queue_push (queue, &msg), ENP_OK);
    }
    zmsg_t *msg = broker_queue_pop (queue);
    ck_assert_int_eq (broker_queue_unpop (queue, &msg), ENP_OK);
    ck_assert_uint_eq (broker_queue_size (queue), 500);
    broker_queue_destroy (&queue);
    ck_assert_ptr_null (queue);
}
END_TEST

//  Passing 90% of the limit warns once, and again after it drained.
START_TEST (test_broker_queue_warns_near_limit)
{
    char path [] = "/tmp/enp-queue-XXXXXX";
    int fd = mkstemp (path);
    ck_assert_int_ge (fd, 0);
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    dup2 (fd, STDERR_FILENO);
    close (fd);
    enp_log_set_level_name ("info");
    enp_log_set_format_name ("text");

    broker_queue_t *queue = broker_queue_new (10, S_BYTES);
    for (int index = 0; index < 10; index++)
        s_push (queue, "x");
    for (int index = 0; index < 10; index++) {
        zmsg_t *msg = broker_queue_pop (queue);
        zmsg_destroy (&msg);
    }
    for (int index = 0; index < 9; index++)
        s_push (queue, "y");
    broker_queue_destroy (&queue);

    fflush (stderr);
    dup2 (saved, STDERR_FILENO);
    close (saved);
    FILE *file = fopen (path, "r");
    char line [512];
    int warnings = 0;
    while (fgets (line, sizeof line, file))
        if (strstr (line, " warn ") && strstr (line, "90%"))
            warnings++;
    fclose (file);
    unlink (path);
    ck_assert_int_eq (warnings, 2);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_broker_queue_usage,
        test_broker_queue_limit,
        test_broker_queue_zero_limit,
        test_broker_queue_byte_limit,
        test_broker_queue_fifo,
        test_broker_queue_unpop_head,
        test_broker_queue_keeps_frames,
        test_broker_queue_destroy_frees_messages,
        test_broker_queue_warns_near_limit,
        NULL
    };
    return testkit_run (testkit_suite ("broker_queue", 10, tests));
}
