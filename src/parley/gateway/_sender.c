/*
 * parley.gateway._sender: writes the gateway's outboxes to their sockets from a thread
 * of its own, without the GIL.
 *
 * On loopback and in VMs, a TCP send() costs several microseconds of kernel time (the
 * stack runs the receiver's side too and wakes it), and uvloop makes it holding the GIL,
 * on the event loop's thread: with ten deliveries a message it was a third of that
 * thread. A Sender takes batches of (fd, bytes, token) from the loop and sends them on a
 * pthread that never touches Python, so the loop goes on with the next messages while
 * the kernel works on another core.
 *
 * Contract (the loop's side, all calls with the GIL, from one thread):
 *   add(fd, data, token) -> bool   queue data for fd; False (nothing queued) when fd
 *                                   cannot be pinned (dup fails, e.g. EMFILE)
 *   kick()                          hand what was added since the last kick to the thread
 *   collect() -> [(token, data, result)]
 *                                   what the thread finished, in the order it was added;
 *                                   result: bytes written (== len(data) when all of it,
 *                                   less when the socket was full), or -errno when the
 *                                   first write failed for another reason (EPIPE, ...)
 *   fileno() -> int                 an eventfd, readable when collect() has something
 *   close()                         write what was added, stop the thread (idempotent);
 *                                   after it, collect() still returns the last results
 *
 * Each item's fd is dup()ed by add(): the copy keeps the socket open until the thread
 * has written, so a connection the loop closes meanwhile cannot have its fd number
 * reused by a new connection that would then receive another's frames. The thread
 * closes the copy after its write. Writes are MSG_DONTWAIT | MSG_NOSIGNAL: the thread
 * never blocks on a slow reader and never raises SIGPIPE; what a full socket did not
 * take is the caller's to write (after everything, through its transport).
 */
#define _GNU_SOURCE  /* pthread_setname_np */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;             /* the dup()ed fd, closed by the thread once written */
    PyObject *data;     /* bytes, a reference held until collect() */
    PyObject *token;    /* the caller's, a reference held until collect() */
    const char *buf;
    Py_ssize_t len;
    Py_ssize_t result;  /* set by the thread */
} Item;

typedef struct Batch {
    struct Batch *next;
    Py_ssize_t n, cap;
    Item *items;
} Batch;

typedef struct {
    PyObject_HEAD
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int started;
    int stopping;       /* under lock */
    int closed;
    int efd;
    Batch *adding;      /* the loop's, not yet kicked */
    Batch *todo_head, *todo_tail;  /* under lock: kicked, for the thread */
    Batch *done_head, *done_tail;  /* under lock: written, for collect() */
} Sender;

static Batch *batch_new(void) {
    Batch *b = calloc(1, sizeof(Batch));
    return b;
}

static void batch_push(Batch **head, Batch **tail, Batch *b) {
    b->next = NULL;
    if (*tail) (*tail)->next = b; else *head = b;
    *tail = b;
}

/* With the GIL: drops the references of a batch never written and closes its fds. */
static void batch_discard(Batch *b) {
    for (Py_ssize_t i = 0; i < b->n; i++) {
        close(b->items[i].fd);
        Py_DECREF(b->items[i].data);
        Py_DECREF(b->items[i].token);
    }
    free(b->items);
    free(b);
}

static Py_ssize_t send_one(Item *it) {
    Py_ssize_t sent = 0;
    while (sent < it->len) {
        ssize_t n = send(it->fd, it->buf + sent, (size_t)(it->len - sent),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;  /* full: the rest is the caller's */
        } else {
            return sent ? sent : -(n < 0 ? errno : EPIPE);
        }
    }
    return sent;
}

static void *run(void *arg) {
    Sender *s = (Sender *)arg;
    pthread_setname_np(pthread_self(), "parley-ws-write");  /* as top -H and /proc show it */
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->todo_head && !s->stopping)
            pthread_cond_wait(&s->wake, &s->lock);
        Batch *b = s->todo_head;
        if (!b) break;  /* stopping, and everything kicked is written */
        s->todo_head = b->next;
        if (!s->todo_head) s->todo_tail = NULL;
        pthread_mutex_unlock(&s->lock);
        for (Py_ssize_t i = 0; i < b->n; i++) {
            Item *it = &b->items[i];
            it->result = send_one(it);
            close(it->fd);
            it->fd = -1;
        }
        pthread_mutex_lock(&s->lock);
        batch_push(&s->done_head, &s->done_tail, b);
        uint64_t one = 1;
        ssize_t w;
        do { w = write(s->efd, &one, sizeof one); } while (w < 0 && errno == EINTR);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static PyObject *Sender_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    if (PyTuple_GET_SIZE(args) || (kw && PyDict_GET_SIZE(kw))) {
        PyErr_SetString(PyExc_TypeError, "Sender() takes no arguments");
        return NULL;
    }
    Sender *s = (Sender *)type->tp_alloc(type, 0);
    if (!s) return NULL;
    s->efd = -1;
    if (pthread_mutex_init(&s->lock, NULL) || pthread_cond_init(&s->wake, NULL)) {
        Py_DECREF(s);
        return PyErr_NoMemory();
    }
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        Py_DECREF(s);
        return NULL;
    }
    int err = pthread_create(&s->thread, NULL, run, s);
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        Py_DECREF(s);
        return NULL;
    }
    s->started = 1;
    return (PyObject *)s;
}

static PyObject *Sender_add(Sender *s, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "add(fd, data, token) takes 3 arguments");
        return NULL;
    }
    long fd = PyLong_AsLong(args[0]);
    if (fd == -1 && PyErr_Occurred()) return NULL;
    if (fd < 0 || fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "not a file descriptor");
        return NULL;
    }
    if (!PyBytes_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "data must be bytes");
        return NULL;
    }
    if (s->closed) {
        PyErr_SetString(PyExc_RuntimeError, "the sender is closed");
        return NULL;
    }
    if (!s->adding && !(s->adding = batch_new())) return PyErr_NoMemory();
    Batch *b = s->adding;
    if (b->n == b->cap) {
        Py_ssize_t cap = b->cap ? b->cap * 2 : 64;
        Item *items = realloc(b->items, (size_t)cap * sizeof(Item));
        if (!items) return PyErr_NoMemory();
        b->items = items;
        b->cap = cap;
    }
    int pinned = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
    if (pinned < 0) Py_RETURN_FALSE;
    Item *it = &b->items[b->n++];
    it->fd = pinned;
    it->data = Py_NewRef(args[1]);
    it->token = Py_NewRef(args[2]);
    it->buf = PyBytes_AS_STRING(args[1]);
    it->len = PyBytes_GET_SIZE(args[1]);
    it->result = 0;
    Py_RETURN_TRUE;
}

static void kick(Sender *s) {
    Batch *b = s->adding;
    if (b && b->n) {
        s->adding = NULL;
        pthread_mutex_lock(&s->lock);
        batch_push(&s->todo_head, &s->todo_tail, b);
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
    }
}

static PyObject *Sender_kick(Sender *s, PyObject *unused) {
    kick(s);
    Py_RETURN_NONE;
}

static void done_put_back(Sender *s, Batch *b) {
    if (!b) return;
    pthread_mutex_lock(&s->lock);
    Batch *last = b;
    while (last->next) last = last->next;
    last->next = s->done_head;
    s->done_head = b;
    if (!s->done_tail) s->done_tail = last;
    pthread_mutex_unlock(&s->lock);
}

static PyObject *Sender_collect(Sender *s, PyObject *unused) {
    uint64_t count;
    while (read(s->efd, &count, sizeof count) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&s->lock);
    Batch *b = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->lock);
    Py_ssize_t total = 0;
    for (Batch *x = b; x; x = x->next) total += x->n;
    PyObject *out = PyList_New(total);
    Py_ssize_t k = 0;
    for (Batch *x = b; out && x; x = x->next) {
        for (Py_ssize_t i = 0; i < x->n; i++) {
            Item *it = &x->items[i];
            PyObject *result = PyLong_FromSsize_t(it->result);
            PyObject *t = result ? PyTuple_Pack(3, it->token, it->data, result) : NULL;
            Py_XDECREF(result);
            if (!t) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, k++, t);
        }
    }
    if (!out) {  /* out of memory: they wait for the next call */
        done_put_back(s, b);
        return NULL;
    }
    while (b) {
        Batch *next = b->next;
        for (Py_ssize_t i = 0; i < b->n; i++) {
            Py_DECREF(b->items[i].data);
            Py_DECREF(b->items[i].token);
        }
        free(b->items);
        free(b);
        b = next;
    }
    return out;
}

static PyObject *Sender_fileno(Sender *s, PyObject *unused) {
    return PyLong_FromLong(s->efd);
}

static void sender_stop(Sender *s) {
    if (s->closed) return;
    s->closed = 1;
    if (!s->started) {  /* no thread to write them: what was added is dropped */
        if (s->adding) batch_discard(s->adding);
        s->adding = NULL;
        return;
    }
    kick(s);  /* what was added and not kicked is written too */
    {
        pthread_mutex_lock(&s->lock);
        s->stopping = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        Py_BEGIN_ALLOW_THREADS
        pthread_join(s->thread, NULL);
        Py_END_ALLOW_THREADS
        s->started = 0;
    }
}

static PyObject *Sender_close(Sender *s, PyObject *unused) {
    sender_stop(s);
    Py_RETURN_NONE;
}

static void Sender_dealloc(Sender *s) {
    sender_stop(s);
    if (s->adding) batch_discard(s->adding);  /* empty: everything else was kicked */
    for (Batch *b = s->done_head; b;) {
        Batch *next = b->next;
        for (Py_ssize_t i = 0; i < b->n; i++) {  /* written: their fds are closed */
            Py_DECREF(b->items[i].data);
            Py_DECREF(b->items[i].token);
        }
        free(b->items);
        free(b);
        b = next;
    }
    if (s->efd >= 0) close(s->efd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Sender_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Sender_add, METH_FASTCALL,
     "add(fd, data, token) -> bool: queue data for fd (False: fd could not be pinned)"},
    {"kick", (PyCFunction)Sender_kick, METH_NOARGS,
     "kick(): hand what was added since the last kick to the thread"},
    {"collect", (PyCFunction)Sender_collect, METH_NOARGS,
     "collect() -> list of (token, data, result): what the thread has written"},
    {"fileno", (PyCFunction)Sender_fileno, METH_NOARGS,
     "fileno() -> int: an eventfd, readable when collect() has something"},
    {"close", (PyCFunction)Sender_close, METH_NOARGS,
     "close(): write what was kicked, then stop the thread"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SenderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "parley.gateway._sender.Sender",
    .tp_basicsize = sizeof(Sender),
    .tp_dealloc = (destructor)Sender_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Writes batches of (fd, bytes) to their sockets on a thread without the GIL.",
    .tp_methods = Sender_methods,
    .tp_new = Sender_new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "parley.gateway._sender",
    .m_doc = "Socket writes for the gateway, on a thread without the GIL.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__sender(void) {
    if (PyType_Ready(&SenderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Sender", (PyObject *)&SenderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
