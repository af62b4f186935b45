/*  test_enp_app - what every service's main does: signals in particular

    Check forks each case, so each has its own signal mask and may call
    enp_app_start, which blocks SIGINT and SIGTERM for the whole process.
*/
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <czmq.h>
#include "enp_app.h"
#include "testkit.h"

//  An actor that, told to stop, keeps working a while before it returns,
//  the way the dispatcher hands its last events to the broker.
static void
s_slow_actor (zsock_t *pipe, void *arg)
{
    atomic_bool *finished = (atomic_bool *) arg;
    zsock_signal (pipe, 0);
    char *command = zstr_recv (pipe);
    zstr_free (&command);
    zclock_sleep (300);
    atomic_store (finished, true);
}

//  Send the process SIGTERM after a short delay.
static void *
s_terminate_soon (void *arg)
{
    (void) arg;
    zclock_sleep (50);
    kill (getpid (), SIGTERM);
    return NULL;
}

//  Usage: start, a stop signal arrives, wait returns, stop.
START_TEST (test_enp_app_usage)
{
    enp_app_start ("test-enp-app");
    kill (getpid (), SIGTERM);
    //  The signal is pending, not lost: wait returns at once
    enp_app_wait ();
    enp_app_stop ();
}
END_TEST

//  A stop signal that arrives while main is stopping an actor does not
//  cut that wait short: zactor_destroy returns only once the actor has
//  finished. With a signal handler, SIGTERM interrupted the wait (EINTR)
//  and the logger freed its store under a dispatcher still running it.
START_TEST (test_enp_app_signal_does_not_cut_teardown)
{
    enp_app_start ("test-enp-app");
    atomic_bool finished = false;
    zactor_t *actor = zactor_new (s_slow_actor, &finished);
    ck_assert_ptr_nonnull (actor);
    pthread_t thread;
    ck_assert_int_eq (pthread_create (&thread, NULL, s_terminate_soon, NULL), 0);
    zactor_destroy (&actor);
    ck_assert_msg (atomic_load (&finished), "zactor_destroy returned before the"
                   " actor finished");
    pthread_join (thread, NULL);
    //  The signal was kept for the one place that takes it
    enp_app_wait ();
    enp_app_stop ();
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_app_usage, test_enp_app_signal_does_not_cut_teardown, NULL
    };
    return testkit_run (testkit_suite ("enp_app", 10, tests));
}
