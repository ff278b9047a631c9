/*
 * parley/_worker.h: the thread each of Parley's C extensions runs beside the event loop
 * (gateway/_sender.c, storage/sqlite/_syncer.c). A pthread that never touches Python
 * sleeps on a condition until the loop hands it work; when it has results it writes an
 * eventfd, which the loop watches (loop.add_reader) and then collects them.
 *
 * Header-only (static functions): each extension is a module of its own. Include it
 * after Python.h.
 */
#ifndef PARLEY_WORKER_H
#define PARLEY_WORKER_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
    pthread_t thread;
    pthread_mutex_t lock; /* guards stopping and what the loop and the thread share */
    pthread_cond_t wake;  /* signalled when work comes, and on stop */
    int efd;              /* the eventfd, -1 until worker_start made it */
    int ready;            /* lock and wake are initialised */
    int started;          /* the thread runs, until worker_stop */
    int stopping;         /* under lock: the thread finishes what it was given, returns */
} Worker;

/* With the GIL: makes w's lock, condition and eventfd and starts run(arg) on a thread of
 * its own. 0, or -1 with an exception raised; either way worker_free(w) frees it. */
static int worker_start(Worker *w, void *(*run)(void *), void *arg) {
    w->efd = -1;
    if (pthread_mutex_init(&w->lock, NULL)) {
        PyErr_NoMemory();
        return -1;
    }
    if (pthread_cond_init(&w->wake, NULL)) {
        pthread_mutex_destroy(&w->lock);
        PyErr_NoMemory();
        return -1;
    }
    w->ready = 1;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    int err = pthread_create(&w->thread, NULL, run, arg);
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    w->started = 1;
    return 0;
}

/* From the thread, best not under w->lock (the loop it wakes takes it at once): tells
 * the loop results are ready. */
static void worker_notify(Worker *w) {
    uint64_t one = 1;
    ssize_t n;
    do { n = write(w->efd, &one, sizeof one); } while (n < 0 && errno == EINTR);
}

/* From the loop, before taking the results: clears the eventfd, so that it is readable
 * again only for results that come after. */
static void worker_drain(Worker *w) {
    uint64_t count;
    while (read(w->efd, &count, sizeof count) < 0 && errno == EINTR) {
    }
}

/* With the GIL: has the thread finish what it was given and return, and joins it
 * (without the GIL, which the thread never takes). Nothing if it is not running. */
static void worker_stop(Worker *w) {
    if (!w->started) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(w->thread, NULL);
    Py_END_ALLOW_THREADS
    w->started = 0;
}

/* With the GIL, once the thread is stopped (or never started): frees what
 * worker_start made. */
static void worker_free(Worker *w) {
    if (w->ready) {
        if (w->efd >= 0) close(w->efd);
        w->efd = -1;
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        w->ready = 0;
    }
}

#endif
