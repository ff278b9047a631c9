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
 * Outboxes (one per connection, so a delivery costs the loop one C call):
 *   outbox(fd, token) -> Outbox     a connection's outbox; token is what collect() and
 *                                   flush() hand back for it (the connection)
 *   Outbox.append(frame) -> bool    queue a frame; True when the sender had no outbox
 *                                   to flush before (the caller schedules one flush)
 *   Outbox.take() -> [bytes]        the frames queued, taken (the caller writes them)
 *   Outbox.close()                  drop what is queued and the token; nothing more is
 *                                   queued
 *   Outbox.writing                  a write of it is with the thread
 *   Outbox.slow                     (set by the caller) its frames go through the
 *                                   caller, not the thread: its socket has a backlog
 *   Outbox.notify                   (set by the caller) collect() hands back its write
 *                                   in flight even when it went out whole
 *   flush(min_batch, slow)          writes every outbox with frames, one write each,
 *                                   with the thread; appends to the list slow the
 *                                   tokens of those the caller must write (all of them
 *                                   when fewer than min_batch have frames; slow ones;
 *                                   ones whose fd cannot be pinned). Outboxes with a
 *                                   write in flight wait for it (collect() queues them
 *                                   again); past max_in_flight writes out, the rest
 *                                   wait (dirty stays nonzero); then kick()s.
 *   dirty                           outboxes waiting for a flush
 *   in_flight, max_in_flight        writes out (add()'s and outboxes'), and the bound
 *   An outbox's write comes back from collect() only when it needs the caller: less
 *   than all of it went out, or notify was set; the others just end their writing.
 *
 * Each item's fd is dup()ed by add() or flush(): the copy keeps the socket open until
 * the thread has written, so a connection the loop closes meanwhile cannot have its fd
 * number reused by a new connection that would then receive another's frames. The
 * thread closes the copy after its write. An outbox pins its fd only at flush(), so
 * its owner must close() it before the socket itself is closed (the gateway does, in
 * on_ws_disconnected). add() is the single write under the outboxes, kept for the
 * thread's own tests and for callers without a connection. Writes are MSG_DONTWAIT | MSG_NOSIGNAL: the thread
 * never blocks on a slow reader and never raises SIGPIPE; what a full socket did not
 * take is the caller's to write (after everything, through its transport).
 */
#define _GNU_SOURCE  /* pthread_setname_np */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "_worker.h"

typedef struct Outbox Outbox;

typedef struct {
    int fd;             /* the dup()ed fd, closed by the thread once written */
    PyObject *data;     /* bytes, a reference held until collect() */
    PyObject *token;    /* the caller's, or its outbox's token (a reference) */
    Outbox *box;        /* the outbox written, or NULL for add()'s */
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
    Worker w;           /* the thread, its lock and its eventfd */
    int closed;
    Batch *adding;      /* the loop's, not yet kicked */
    Batch *todo_head, *todo_tail;  /* under lock: kicked, for the thread */
    Batch *done_head, *done_tail;  /* under lock: written, for collect() */
    Outbox *dirty_head, *dirty_tail;  /* the loop's: outboxes to flush (a ref each) */
    Py_ssize_t ndirty;
    Py_ssize_t in_flight, max_in_flight;
} Sender;

struct Outbox {
    PyObject_HEAD
    Sender *sender;     /* a reference */
    PyObject *token;
    int fd;
    char dirty, writing, slow, notify, closed;
    PyObject **frames;  /* references */
    Py_ssize_t n, cap;
    Outbox *next;       /* in the sender's dirty list */
};

static PyTypeObject OutboxType;

static void dirty_push(Sender *s, Outbox *b) {
    b->dirty = 1;
    b->next = NULL;
    Py_INCREF(b);
    if (s->dirty_tail) s->dirty_tail->next = b; else s->dirty_head = b;
    s->dirty_tail = b;
    s->ndirty++;
}

/* The first outbox of the dirty list, its reference now the caller's. */
static Outbox *dirty_pop(Sender *s) {
    Outbox *b = s->dirty_head;
    if (!b) return NULL;
    s->dirty_head = b->next;
    if (!s->dirty_head) s->dirty_tail = NULL;
    b->next = NULL;
    b->dirty = 0;
    s->ndirty--;
    return b;
}

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
        Py_XDECREF(b->items[i].box);
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
    pthread_mutex_lock(&s->w.lock);
    for (;;) {
        while (!s->todo_head && !s->w.stopping)
            pthread_cond_wait(&s->w.wake, &s->w.lock);
        Batch *b = s->todo_head;
        if (!b) break;  /* stopping, and everything kicked is written */
        s->todo_head = b->next;
        if (!s->todo_head) s->todo_tail = NULL;
        pthread_mutex_unlock(&s->w.lock);
        for (Py_ssize_t i = 0; i < b->n; i++) {
            Item *it = &b->items[i];
            it->result = send_one(it);
            close(it->fd);
            it->fd = -1;
        }
        pthread_mutex_lock(&s->w.lock);
        batch_push(&s->done_head, &s->done_tail, b);
        /* the loop is woken after the lock is let go: woken while it is held, its
         * collect() would sleep on it, and this thread may just have been preempted by
         * the very loop it woke */
        pthread_mutex_unlock(&s->w.lock);
        worker_notify(&s->w);
        pthread_mutex_lock(&s->w.lock);
    }
    pthread_mutex_unlock(&s->w.lock);
    return NULL;
}

static PyObject *Sender_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    if (PyTuple_GET_SIZE(args) || (kw && PyDict_GET_SIZE(kw))) {
        PyErr_SetString(PyExc_TypeError, "Sender() takes no arguments");
        return NULL;
    }
    Sender *s = (Sender *)type->tp_alloc(type, 0);
    if (!s) return NULL;
    s->max_in_flight = 4096;
    if (worker_start(&s->w, run, s) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s;
}

/* Queues a write of data (bytes) to pinned (a dup()ed fd, the thread's to close) for
 * token and box (NULL for add()'s); references to data, token and box taken. 0: queued;
 * -1: out of memory (raised; pinned is still the caller's). */
static int queue_item(Sender *s, int pinned, PyObject *data, PyObject *token, Outbox *box) {
    if (!s->adding && !(s->adding = batch_new())) {
        PyErr_NoMemory();
        return -1;
    }
    Batch *b = s->adding;
    if (b->n == b->cap) {
        Py_ssize_t cap = b->cap ? b->cap * 2 : 64;
        Item *items = realloc(b->items, (size_t)cap * sizeof(Item));
        if (!items) {
            PyErr_NoMemory();
            return -1;
        }
        b->items = items;
        b->cap = cap;
    }
    Item *it = &b->items[b->n++];
    it->fd = pinned;
    it->data = Py_NewRef(data);
    it->token = Py_NewRef(token);
    it->box = box;
    Py_XINCREF(box);
    it->buf = PyBytes_AS_STRING(data);
    it->len = PyBytes_GET_SIZE(data);
    it->result = 0;
    s->in_flight++;
    return 0;
}

/* A file descriptor argument, or -1 with an exception raised. */
static int fd_arg(PyObject *arg) {
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred()) return -1;
    if (fd < 0 || fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "not a file descriptor");
        return -1;
    }
    return (int)fd;
}

static PyObject *Sender_add(Sender *s, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "add(fd, data, token) takes 3 arguments");
        return NULL;
    }
    int fd = fd_arg(args[0]);
    if (fd < 0) return NULL;
    if (!PyBytes_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "data must be bytes");
        return NULL;
    }
    if (s->closed) {
        PyErr_SetString(PyExc_RuntimeError, "the sender is closed");
        return NULL;
    }
    int pinned = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (pinned < 0) Py_RETURN_FALSE;
    if (queue_item(s, pinned, args[1], args[2], NULL) < 0) {
        close(pinned);
        return NULL;
    }
    Py_RETURN_TRUE;
}

static void kick(Sender *s) {
    Batch *b = s->adding;
    if (b && b->n) {
        s->adding = NULL;
        pthread_mutex_lock(&s->w.lock);
        batch_push(&s->todo_head, &s->todo_tail, b);
        pthread_mutex_unlock(&s->w.lock);
        /* after letting go: signalled under the lock, the thread wakes only to sleep on
         * it again (the thread checks for work under the lock, so none is missed) */
        pthread_cond_signal(&s->w.wake);
    }
}

static PyObject *Sender_kick(Sender *s, PyObject *unused) {
    kick(s);
    Py_RETURN_NONE;
}

static void done_put_back(Sender *s, Batch *b) {
    if (!b) return;
    pthread_mutex_lock(&s->w.lock);
    Batch *last = b;
    while (last->next) last = last->next;
    last->next = s->done_head;
    s->done_head = b;
    if (!s->done_tail) s->done_tail = last;
    pthread_mutex_unlock(&s->w.lock);
}

static PyObject *Sender_collect(Sender *s, PyObject *unused) {
    worker_drain(&s->w);
    pthread_mutex_lock(&s->w.lock);
    Batch *b = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->w.lock);
    PyObject *out = PyList_New(0);
    for (Batch *x = b; out && x; x = x->next) {
        for (Py_ssize_t i = 0; i < x->n; i++) {
            Item *it = &x->items[i];
            Outbox *box = it->box;
            if (box && it->result == it->len && !box->notify) continue;  /* see below */
            PyObject *result = PyLong_FromSsize_t(it->result);
            PyObject *t = result ? PyTuple_Pack(3, it->token, it->data, result) : NULL;
            Py_XDECREF(result);
            if (!t || PyList_Append(out, t) < 0) {
                Py_XDECREF(t);
                Py_CLEAR(out);
                break;
            }
            Py_DECREF(t);
        }
    }
    if (!out) {  /* out of memory: they wait for the next call */
        done_put_back(s, b);
        return NULL;
    }
    /* Every write is over: its outbox may write again (queued for the next flush when
     * frames came meanwhile); the caller hears of those it must finish (above). */
    while (b) {
        Batch *next = b->next;
        for (Py_ssize_t i = 0; i < b->n; i++) {
            Item *it = &b->items[i];
            Outbox *box = it->box;
            s->in_flight--;
            if (box) {
                box->writing = 0;
                box->notify = 0;
                if (box->n && !box->dirty && !box->closed) dirty_push(s, box);
                Py_DECREF(box);
            }
            Py_DECREF(it->data);
            Py_DECREF(it->token);
        }
        free(b->items);
        free(b);
        b = next;
    }
    return out;
}

static PyObject *Sender_fileno(Sender *s, PyObject *unused) {
    return PyLong_FromLong(s->w.efd);
}

static void sender_stop(Sender *s) {
    if (s->closed) return;
    s->closed = 1;
    if (!s->w.started) {  /* no thread to write them: what was added is dropped */
        if (s->adding) batch_discard(s->adding);
        s->adding = NULL;
        return;
    }
    kick(s);  /* what was added and not kicked is written too */
    worker_stop(&s->w);
}

static PyObject *Sender_close(Sender *s, PyObject *unused) {
    sender_stop(s);
    Py_RETURN_NONE;
}

static void Sender_dealloc(Sender *s) {
    sender_stop(s);
    if (s->adding) batch_discard(s->adding);  /* empty: everything else was kicked */
    Outbox *box;
    while ((box = dirty_pop(s))) Py_DECREF(box);
    for (Batch *b = s->done_head; b;) {
        Batch *next = b->next;
        for (Py_ssize_t i = 0; i < b->n; i++) {  /* written: their fds are closed */
            Py_DECREF(b->items[i].data);
            Py_DECREF(b->items[i].token);
            Py_XDECREF(b->items[i].box);
        }
        free(b->items);
        free(b);
        b = next;
    }
    worker_free(&s->w);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* -- outboxes ------------------------------------------------------------------------ */

static void outbox_drop_frames(Outbox *b) {
    Py_ssize_t n = b->n;
    b->n = 0;
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(b->frames[i]);
}

/* The outbox's frames as one bytes (a new reference); the outbox is left empty. */
static PyObject *outbox_join(Outbox *b) {
    if (b->n == 1) {
        b->n = 0;
        return b->frames[0];
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < b->n; i++) total += PyBytes_GET_SIZE(b->frames[i]);
    PyObject *data = PyBytes_FromStringAndSize(NULL, total);
    if (!data) return NULL;
    char *at = PyBytes_AS_STRING(data);
    for (Py_ssize_t i = 0; i < b->n; i++) {
        Py_ssize_t len = PyBytes_GET_SIZE(b->frames[i]);
        memcpy(at, PyBytes_AS_STRING(b->frames[i]), (size_t)len);
        at += len;
    }
    outbox_drop_frames(b);
    return data;
}

static PyObject *Outbox_append(Outbox *b, PyObject *frame) {
    if (!PyBytes_CheckExact(frame)) {
        PyErr_SetString(PyExc_TypeError, "a frame must be bytes");
        return NULL;
    }
    if (b->closed || !b->sender) Py_RETURN_FALSE;
    if (b->n == b->cap) {
        Py_ssize_t cap = b->cap ? b->cap * 2 : 4;
        PyObject **frames = PyMem_Realloc(b->frames, (size_t)cap * sizeof(PyObject *));
        if (!frames) return PyErr_NoMemory();
        b->frames = frames;
        b->cap = cap;
    }
    b->frames[b->n++] = Py_NewRef(frame);
    if (b->dirty || b->writing) Py_RETURN_FALSE;  /* writing: collect() queues it again */
    Sender *s = b->sender;
    int first = s->ndirty == 0;
    dirty_push(s, b);
    return PyBool_FromLong(first);
}

static PyObject *Outbox_take(Outbox *b, PyObject *unused) {
    PyObject *out = PyList_New(b->n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < b->n; i++) PyList_SET_ITEM(out, i, b->frames[i]);  /* stolen */
    b->n = 0;
    return out;
}

static PyObject *Outbox_close(Outbox *b, PyObject *unused) {
    b->closed = 1;
    outbox_drop_frames(b);
    Py_CLEAR(b->token);  /* a write in flight holds its own */
    Py_RETURN_NONE;
}

static Py_ssize_t Outbox_len(Outbox *b) {
    return b->n;
}

static int Outbox_traverse(Outbox *b, visitproc visit, void *arg) {
    Py_VISIT(b->sender);
    Py_VISIT(b->token);
    for (Py_ssize_t i = 0; i < b->n; i++) Py_VISIT(b->frames[i]);
    return 0;
}

static int Outbox_clear(Outbox *b) {
    b->closed = 1;
    outbox_drop_frames(b);
    Py_CLEAR(b->token);
    Py_CLEAR(b->sender);
    return 0;
}

static void Outbox_dealloc(Outbox *b) {
    PyObject_GC_UnTrack(b);
    Outbox_clear(b);
    PyMem_Free(b->frames);
    PyObject_GC_Del(b);
}

static PyObject *Outbox_get_flag(Outbox *b, void *which) {
    char *flag = (char *)b + (Py_ssize_t)which;
    return PyBool_FromLong(*flag);
}

static int Outbox_set_flag(Outbox *b, PyObject *value, void *which) {
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete the flag");
        return -1;
    }
    int on = PyObject_IsTrue(value);
    if (on < 0) return -1;
    *((char *)b + (Py_ssize_t)which) = (char)on;
    return 0;
}

#define FLAG(name) ((void *)offsetof(Outbox, name))

static PyGetSetDef Outbox_getset[] = {
    {"writing", (getter)Outbox_get_flag, NULL, "a write of it is with the thread", FLAG(writing)},
    {"closed", (getter)Outbox_get_flag, NULL, "close() was called", FLAG(closed)},
    {"slow", (getter)Outbox_get_flag, (setter)Outbox_set_flag,
     "its frames go through the caller (flush() hands back its token)", FLAG(slow)},
    {"notify", (getter)Outbox_get_flag, (setter)Outbox_set_flag,
     "collect() hands back its write in flight even when it went out whole", FLAG(notify)},
    {NULL},
};

static PyMethodDef Outbox_methods[] = {
    {"append", (PyCFunction)Outbox_append, METH_O,
     "append(frame) -> bool: queue a frame (True: schedule the sender's flush)"},
    {"take", (PyCFunction)Outbox_take, METH_NOARGS, "take() -> [bytes]: the frames queued"},
    {"close", (PyCFunction)Outbox_close, METH_NOARGS, "close(): drop the frames; queue no more"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Outbox_as_sequence = {
    .sq_length = (lenfunc)Outbox_len,
};

static PyTypeObject OutboxType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "parley.gateway._sender.Outbox",
    .tp_basicsize = sizeof(Outbox),
    .tp_dealloc = (destructor)Outbox_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One connection's frames waiting for its Sender's flush().",
    .tp_traverse = (traverseproc)Outbox_traverse,
    .tp_clear = (inquiry)Outbox_clear,
    .tp_methods = Outbox_methods,
    .tp_getset = Outbox_getset,
    .tp_as_sequence = &Outbox_as_sequence,
};

static PyObject *Sender_outbox(Sender *s, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "outbox(fd, token) takes 2 arguments");
        return NULL;
    }
    int fd = fd_arg(args[0]);
    if (fd < 0) return NULL;
    Outbox *b = PyObject_GC_New(Outbox, &OutboxType);
    if (!b) return NULL;
    b->sender = (Sender *)Py_NewRef((PyObject *)s);
    b->token = Py_NewRef(args[1]);
    b->fd = fd;
    b->dirty = b->writing = b->slow = b->notify = b->closed = 0;
    b->frames = NULL;
    b->n = b->cap = 0;
    b->next = NULL;
    PyObject_GC_Track(b);
    return (PyObject *)b;
}

static PyObject *Sender_flush(Sender *s, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "flush(min_batch, slow: list) takes 2 arguments");
        return NULL;
    }
    Py_ssize_t min_batch = PyLong_AsSsize_t(args[0]);
    if (min_batch == -1 && PyErr_Occurred()) return NULL;
    PyObject *slow = args[1];
    if (s->closed) {
        PyErr_SetString(PyExc_RuntimeError, "the sender is closed");
        return NULL;
    }
    Py_ssize_t waiting = 0;
    for (Outbox *b = s->dirty_head; b; b = b->next) waiting += b->n && !b->closed;
    int direct = waiting < min_batch;  /* too few to wake the thread for */
    while (s->dirty_head) {
        Outbox *b = s->dirty_head;
        int threaded = !direct && !b->slow && b->n && !b->closed && !b->writing;
        if (threaded && s->in_flight >= s->max_in_flight) break;  /* the rest wait */
        b = dirty_pop(s);
        if (b->closed || !b->n || b->writing) {  /* writing: collect() queues it again */
            Py_DECREF(b);
            continue;
        }
        int pinned = threaded ? fcntl(b->fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (pinned < 0) {  /* the caller writes it (few, slow, or out of descriptors) */
            int failed = PyList_Append(slow, b->token) < 0;
            if (failed) dirty_push(s, b);
            Py_DECREF(b);
            if (failed) return NULL;
            continue;
        }
        PyObject *data = outbox_join(b);
        if (!data || queue_item(s, pinned, data, b->token, b) < 0) {
            close(pinned);
            if (data) {  /* back as its only frame: nothing is lost */
                b->frames[b->n++] = data;
            }
            dirty_push(s, b);
            Py_DECREF(b);
            kick(s);
            return NULL;
        }
        Py_DECREF(data);
        b->writing = 1;
        Py_DECREF(b);
    }
    kick(s);
    Py_RETURN_NONE;
}

static PyMemberDef Sender_members[] = {
    {"dirty", T_PYSSIZET, offsetof(Sender, ndirty), READONLY, "outboxes waiting for a flush"},
    {"in_flight", T_PYSSIZET, offsetof(Sender, in_flight), READONLY, "writes out"},
    {"max_in_flight", T_PYSSIZET, offsetof(Sender, max_in_flight), 0,
     "flush() leaves outboxes waiting past this many writes out"},
    {NULL},
};

static PyMethodDef Sender_methods[] = {
    {"outbox", (PyCFunction)(void (*)(void))Sender_outbox, METH_FASTCALL,
     "outbox(fd, token) -> Outbox: a connection's outbox"},
    {"flush", (PyCFunction)(void (*)(void))Sender_flush, METH_FASTCALL,
     "flush(min_batch, slow): write the outboxes with frames; the caller's tokens go to slow"},
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
    .tp_members = Sender_members,
    .tp_new = Sender_new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "parley.gateway._sender",
    .m_doc = "Socket writes for the gateway, on a thread without the GIL.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__sender(void) {
    if (PyType_Ready(&SenderType) < 0 || PyType_Ready(&OutboxType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Sender", (PyObject *)&SenderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
