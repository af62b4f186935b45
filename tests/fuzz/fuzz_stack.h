/*  fuzz_stack - run each fuzz input on a thread with a server-sized stack

    CivetWeb runs the logger's handlers on threads with 100 KiB stacks,
    while libFuzzer calls a harness on the main thread's 8 MiB one: input
    that recurses deeply (nested JSON) crashed the logger yet passed the
    fuzzers. Harnesses of code that handlers run call their checks through
    fuzz_on_server_stack, so a stack overflow is a crash here too. One
    thread is started once and handed each input through two semaphores: a
    thread per input cost ~95 % of the execution rate under ASan.
*/
#ifndef FUZZ_STACK_H_INCLUDED
#define FUZZ_STACK_H_INCLUDED

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>

#define FUZZ_SERVER_STACK (100 * 1024)

typedef struct {
    void (*check) (const uint8_t *data, size_t size);
    const uint8_t *data;
    size_t size;
    sem_t go, done;
} fuzz_stack_t;

static fuzz_stack_t fuzz_stack_input;

//  The small-stack thread: run each input it is handed, forever.
static void *
fuzz_stack_loop (void *arg)
{
    fuzz_stack_t *input = (fuzz_stack_t *) arg;
    while (1) {
        while (sem_wait (&input->go) != 0)
            ;
        input->check (input->data, input->size);
        sem_post (&input->done);
    }
    return NULL;
}

//  Call check (data, size) on the FUZZ_SERVER_STACK thread and wait.
static inline void
fuzz_on_server_stack (void (*check) (const uint8_t *, size_t),
                      const uint8_t *data, size_t size)
{
    static int started = 0;
    if (!started) {
        pthread_attr_t attr;
        pthread_t thread;
        if (sem_init (&fuzz_stack_input.go, 0, 0)
        ||  sem_init (&fuzz_stack_input.done, 0, 0)
        ||  pthread_attr_init (&attr)
        ||  pthread_attr_setstacksize (&attr, FUZZ_SERVER_STACK)
        ||  pthread_create (&thread, &attr, fuzz_stack_loop, &fuzz_stack_input))
            abort ();
        pthread_attr_destroy (&attr);
        started = 1;
    }
    fuzz_stack_input.check = check;
    fuzz_stack_input.data = data;
    fuzz_stack_input.size = size;
    sem_post (&fuzz_stack_input.go);
    while (sem_wait (&fuzz_stack_input.done) != 0)
        ;
}

#endif
