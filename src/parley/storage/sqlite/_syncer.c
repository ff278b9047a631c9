/*
 * parley.storage.sqlite._syncer: commits and syncs SQLite write batches on a thread that
 * never takes the GIL.
 *
 * The syncer (storage/sqlite/syncer.py) commits each batch the event loop ran and
 * fdatasync()s its WAL. As a Python thread it took the GIL from the busy loop three
 * times a batch (woken, after its COMMIT, after its sync), each a wait for the loop to
 * let go and a wake-up of its own: at 5,000 msg/s a third of each group commit's cycle.
 * Here the same work is a pthread calling SQLite's C API on the connection's handle.
 *
 * Handles (SQLite's sqlite3 *, as an int): Python's sqlite3 module does not show them, so
 * this module registers an auto-extension, which SQLite runs inside every open of a
 * connection in the process (on the opening thread):
 *   capture()           the next connection this thread opens is recorded
 *   captured() -> int   its handle (0 if none was opened since capture()), forgotten
 *   filename(h) -> str  the file of handle h's main database ("" for :memory:)
 * The handle is valid while its Python connection is open; the caller keeps it open.
 *
 * memstatus_off() -> bool   SQLite's memory statistics, and the global mutex every
 *                           allocation takes for them, off for the process; only while no
 *                           connection is open (False otherwise, or where it failed)
 *
 * Syncer(name="parley-sync", nice=0, bounds=()) starts the thread (named name, cut to 15
 * bytes; at that nice value, if not 0; its syncs timed and counted by bounds, see
 * syncs()); its calls are all made with the GIL, from one thread, the event loop's:
 *   commit(h, fd, token)    COMMIT the transaction open on handle h (h == 0: nothing to
 *                           commit), then fdatasync(fd) (fd < 0: no sync); jobs queued
 *                           before the thread takes them share one sync per fd
 *   execute(h, statements, token)
 *                           one transaction on handle h (BEGIN IMMEDIATE ... COMMIT) of
 *                           statements, a sequence of (sql, param): param (str, int or
 *                           None: no parameter) is bound to the statement's ?1; rows a
 *                           statement returns are skipped; the first error rolls the
 *                           transaction back (its rc and message are the job's)
 *   checkpoint(h, token)    wal_checkpoint(PASSIVE) on handle h, after what came before
 *   collect() -> [(token, rc, message, errno)]
 *                           what the thread finished, in the order it was queued: rc is
 *                           SQLite's result (0, SQLITE_OK, or the COMMIT's or the
 *                           checkpoint's error, after which a failed COMMIT was rolled
 *                           back), message its text or None; errno the sync's (0: synced
 *                           or not asked)
 *   fileno() -> int         an eventfd, readable when collect() has something
 *   syncs() -> (counts, seconds)
 *                           the fdatasync()s made so far, timed: counts[i] of them took
 *                           at most bounds[i] seconds and more than the bound before it
 *                           (the last, past every bound), seconds their total; bounds
 *                           (ascending seconds, at most MAX_BOUNDS) are Syncer's
 *   close()                 finish what was queued, stop the thread (idempotent)
 * A batch's results are handed back (and the eventfd written) as soon as it is synced,
 * before the checkpoints queued with it run.
 *
 * The contract SQLite needs: nothing else uses a connection while its job is with the
 * thread (the loop's writer leaves it alone until the job comes back); SQLite's own
 * serialized mode makes the hand-over between threads safe.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "_worker.h"

enum { COMMIT = 1, CHECKPOINT = 2, EXECUTE = 3 };
enum { MAX_BOUNDS = 32 };

/* One statement of an EXECUTE job: its SQL and the value bound to its ?1. */
typedef struct {
    char *sql;
    int type;           /* SQLITE_TEXT, SQLITE_INTEGER or SQLITE_NULL (nothing bound) */
    char *text;         /* SQLITE_TEXT: malloc()ed, UTF-8 */
    Py_ssize_t size;
    sqlite3_int64 number;
} Statement;

typedef struct Job {
    struct Job *next;
    int kind;
    sqlite3 *db;
    Statement *statements; /* EXECUTE: malloc()ed, count of them */
    Py_ssize_t count;
    int fd;
    PyObject *token; /* a reference, released by collect() */
    int rc;
    char *message;   /* malloc()ed, or NULL */
    int sync_errno;
} Job;

typedef struct {
    Job *head, *tail;
} Queue;

typedef struct {
    PyObject_HEAD
    char name[16]; /* the thread's, as top -H and /proc show it */
    int nice;      /* the thread's, if not 0 */
    Worker w;
    int closed;
    Queue todo; /* under w.lock: queued, for the thread */
    Queue done; /* under w.lock: finished, for collect() */
    int nbounds;
    double bounds[MAX_BOUNDS];              /* seconds, ascending */
    unsigned long long counts[MAX_BOUNDS + 1]; /* under w.lock: syncs per bucket */
    double sync_seconds;                    /* under w.lock: their total */
} Syncer;

static void push(Queue *q, Job *j) {
    j->next = NULL;
    if (q->tail) q->tail->next = j; else q->head = j;
    q->tail = j;
}

static void append(Queue *q, Queue *more) {
    if (!more->head) return;
    if (q->tail) q->tail->next = more->head; else q->head = more->head;
    q->tail = more->tail;
    more->head = more->tail = NULL;
}

static char *copy(const char *text) {
    return text ? strdup(text) : NULL;
}

/* Without the GIL. */
static void commit_one(Job *j) {
    if (!j->db) return;
    char *err = NULL;
    j->rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, &err);
    if (j->rc != SQLITE_OK) {
        j->message = copy(err ? err : sqlite3_errmsg(j->db));
        sqlite3_free(err);
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Without the GIL: counts one sync of took seconds. */
static void count_sync(Syncer *s, double took) {
    int i = 0;
    while (i < s->nbounds && took > s->bounds[i]) i++;
    pthread_mutex_lock(&s->w.lock);
    s->counts[i]++;
    s->sync_seconds += took;
    pthread_mutex_unlock(&s->w.lock);
}

/* Without the GIL: one fdatasync per distinct fd of the commits in taken, each timed. */
static void sync_all(Syncer *s, Job *taken) {
    for (Job *j = taken; j; j = j->next) {
        if (j->kind != COMMIT || j->fd < 0) continue;
        Job *first = taken;
        while (first != j && !(first->kind == COMMIT && first->fd == j->fd)) first = first->next;
        if (first != j) {
            j->sync_errno = first->sync_errno; /* synced with an earlier one */
            continue;
        }
        int r;
        double began = now_seconds();
        do { r = fdatasync(j->fd); } while (r < 0 && errno == EINTR);
        j->sync_errno = r < 0 ? errno : 0;
        count_sync(s, now_seconds() - began);
    }
}

/* Without the GIL: the job's statements in one transaction; rolled back at the first
 * error, which is the job's. */
static void execute_one(Job *j) {
    char *err = NULL;
    j->rc = sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, &err);
    if (j->rc != SQLITE_OK) {
        j->message = copy(err ? err : sqlite3_errmsg(j->db));
        sqlite3_free(err);
        return;
    }
    for (Py_ssize_t i = 0; i < j->count && j->rc == SQLITE_OK; i++) {
        Statement *st = &j->statements[i];
        sqlite3_stmt *stmt = NULL;
        j->rc = sqlite3_prepare_v2(j->db, st->sql, -1, &stmt, NULL);
        if (j->rc == SQLITE_OK && stmt) {
            if (st->type == SQLITE_TEXT)
                j->rc = sqlite3_bind_text64(stmt, 1, st->text, (sqlite3_uint64)st->size,
                                            SQLITE_STATIC, SQLITE_UTF8);
            else if (st->type == SQLITE_INTEGER)
                j->rc = sqlite3_bind_int64(stmt, 1, st->number);
            if (j->rc == SQLITE_OK) {
                int r;
                while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {}
                j->rc = r == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(j->db) & 0xff;
            }
        }
        if (j->rc != SQLITE_OK) j->message = copy(sqlite3_errmsg(j->db));
        sqlite3_finalize(stmt);
    }
    if (j->rc == SQLITE_OK) {
        j->rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, &err);
        if (j->rc != SQLITE_OK) {
            j->message = copy(err ? err : sqlite3_errmsg(j->db));
            sqlite3_free(err);
        }
    }
    if (j->rc != SQLITE_OK) sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
}

static void checkpoint_one(Job *j) {
    j->rc = sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (j->rc != SQLITE_OK) j->message = copy(sqlite3_errmsg(j->db));
}

/* Hands finished jobs to collect(), then wakes the loop, after letting go of w.lock:
 * woken while the lock is held, the loop's collect() would sleep on it, and the thread
 * that holds it may just have been preempted by the very loop it woke. */
static void finish(Syncer *s, Queue *finished) {
    if (!finished->head) return;
    pthread_mutex_lock(&s->w.lock);
    append(&s->done, finished);
    pthread_mutex_unlock(&s->w.lock);
    worker_notify(&s->w);
}

static void *run(void *arg) {
    Syncer *s = (Syncer *)arg;
    pthread_setname_np(pthread_self(), s->name);
    if (s->nice) /* this thread alone: Linux schedules threads by their own nice */
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), s->nice);
    pthread_mutex_lock(&s->w.lock);
    for (;;) {
        while (!s->todo.head && !s->w.stopping) pthread_cond_wait(&s->w.wake, &s->w.lock);
        Job *taken = s->todo.head;
        if (!taken) break; /* stopping, and everything queued is done */
        s->todo.head = s->todo.tail = NULL;
        pthread_mutex_unlock(&s->w.lock);

        for (Job *j = taken; j; j = j->next) {
            if (j->kind == COMMIT) commit_one(j);
            else if (j->kind == EXECUTE) execute_one(j);
        }
        sync_all(s, taken);
        Queue commits = {NULL, NULL}, checkpoints = {NULL, NULL};
        for (Job *j = taken, *next; j; j = next) {
            next = j->next;
            push(j->kind == CHECKPOINT ? &checkpoints : &commits, j);
        }
        finish(s, &commits);
        for (Job *j = checkpoints.head; j; j = j->next) checkpoint_one(j);
        finish(s, &checkpoints);
        pthread_mutex_lock(&s->w.lock);
    }
    pthread_mutex_unlock(&s->w.lock);
    return NULL;
}

static PyObject *Syncer_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    const char *name = "parley-sync";
    int nice = 0;
    PyObject *bounds = NULL;
    static char *keywords[] = {"name", "nice", "bounds", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|siO:Syncer", keywords, &name, &nice, &bounds))
        return NULL;
    double parsed[MAX_BOUNDS];
    Py_ssize_t n = 0;
    if (bounds) {
        PyObject *seq = PySequence_Fast(bounds, "bounds must be a sequence of seconds");
        if (!seq) return NULL;
        n = PySequence_Fast_GET_SIZE(seq);
        for (Py_ssize_t i = 0; i < n && i < MAX_BOUNDS; i++) {
            parsed[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
            if (parsed[i] == -1.0 && PyErr_Occurred()) break;
            if (i && !(parsed[i] > parsed[i - 1])) {
                PyErr_SetString(PyExc_ValueError, "bounds must ascend");
                break;
            }
        }
        Py_DECREF(seq);
        if (PyErr_Occurred()) return NULL;
        if (n > MAX_BOUNDS) {
            PyErr_Format(PyExc_ValueError, "at most %d bounds", MAX_BOUNDS);
            return NULL;
        }
    }
    Syncer *s = (Syncer *)type->tp_alloc(type, 0);
    if (!s) return NULL;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->nice = nice;
    s->nbounds = (int)n;
    memcpy(s->bounds, parsed, sizeof(double) * (size_t)n);
    if (worker_start(&s->w, run, s) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s;
}

/* A handle argument (an int from captured()); NULL for 0, or with an exception raised. */
static sqlite3 *handle_arg(PyObject *arg) {
    if (!PyLong_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "a handle is an int");
        return NULL;
    }
    return (sqlite3 *)PyLong_AsVoidPtr(arg);
}

/* A handle argument that must not be 0: NULL with an exception raised otherwise. */
static sqlite3 *required_handle(PyObject *arg) {
    sqlite3 *db = handle_arg(arg);
    if (!db && !PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "no handle");
    return db;
}

/* With the GIL: a job's memory and its token's reference. */
static void free_job(Job *j) {
    for (Py_ssize_t i = 0; i < j->count; i++) {
        free(j->statements[i].sql);
        free(j->statements[i].text);
    }
    free(j->statements);
    Py_DECREF(j->token);
    free(j->message);
    free(j);
}

/* A new job (NULL with an exception raised if the syncer is closed or memory is short). */
static Job *new_job(Syncer *s, int kind, sqlite3 *db, int fd, PyObject *token) {
    if (s->closed) {
        PyErr_SetString(PyExc_RuntimeError, "the syncer is closed");
        return NULL;
    }
    Job *j = calloc(1, sizeof(Job));
    if (!j) return (Job *)PyErr_NoMemory();
    j->kind = kind;
    j->db = db;
    j->fd = fd;
    j->token = Py_NewRef(token);
    return j;
}

static PyObject *enqueue(Syncer *s, Job *j) {
    pthread_mutex_lock(&s->w.lock);
    push(&s->todo, j);
    pthread_mutex_unlock(&s->w.lock);
    /* after letting go: signalled under the lock, the thread wakes only to sleep on it
     * again (it checks for work under the lock, so none is missed) */
    pthread_cond_signal(&s->w.wake);
    Py_RETURN_NONE;
}

static PyObject *queue_job(Syncer *s, int kind, sqlite3 *db, int fd, PyObject *token) {
    Job *j = new_job(s, kind, db, fd, token);
    return j ? enqueue(s, j) : NULL;
}

/* With the GIL: statement i of j from item, a (sql, param) pair; -1 with an exception. */
static int statement_arg(Job *j, Py_ssize_t i, PyObject *item) {
    Statement *st = &j->statements[i];
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(item, 0))) {
        PyErr_SetString(PyExc_TypeError, "a statement is a (sql, param) tuple");
        return -1;
    }
    const char *sql = PyUnicode_AsUTF8(PyTuple_GET_ITEM(item, 0));
    if (!sql || !(st->sql = strdup(sql))) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    PyObject *param = PyTuple_GET_ITEM(item, 1);
    if (param == Py_None) {
        st->type = SQLITE_NULL;
    } else if (PyLong_Check(param)) {
        st->type = SQLITE_INTEGER;
        st->number = PyLong_AsLongLong(param);
        if (st->number == -1 && PyErr_Occurred()) return -1;
    } else if (PyUnicode_Check(param)) {
        st->type = SQLITE_TEXT;
        const char *text = PyUnicode_AsUTF8AndSize(param, &st->size);
        if (!text) return -1;
        if (!(st->text = malloc((size_t)st->size + 1))) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(st->text, text, (size_t)st->size + 1);
    } else {
        PyErr_SetString(PyExc_TypeError, "a statement's param is a str, an int or None");
        return -1;
    }
    return 0;
}

static PyObject *Syncer_execute(Syncer *s, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "execute(handle, statements, token) takes 3 arguments");
        return NULL;
    }
    sqlite3 *db = required_handle(args[0]);
    if (!db) return NULL;
    PyObject *seq = PySequence_Fast(args[1], "statements is a sequence");
    if (!seq) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    Job *j = new_job(s, EXECUTE, db, -1, args[2]);
    if (j && count && !(j->statements = calloc((size_t)count, sizeof(Statement)))) {
        free_job(j);
        j = (Job *)PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; j && i < count; i++) {
        j->count = i + 1; /* what free_job frees, this one too */
        if (statement_arg(j, i, PySequence_Fast_GET_ITEM(seq, i)) < 0) {
            free_job(j);
            j = NULL;
        }
    }
    Py_DECREF(seq);
    return j ? enqueue(s, j) : NULL;
}

static PyObject *Syncer_commit(Syncer *s, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "commit(handle, fd, token) takes 3 arguments");
        return NULL;
    }
    sqlite3 *db = handle_arg(args[0]);
    if (PyErr_Occurred()) return NULL;
    long fd = PyLong_AsLong(args[1]);
    if (fd == -1 && PyErr_Occurred()) return NULL;
    return queue_job(s, COMMIT, db, fd < 0 || fd > INT_MAX ? -1 : (int)fd, args[2]);
}

static PyObject *Syncer_checkpoint(Syncer *s, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "checkpoint(handle, token) takes 2 arguments");
        return NULL;
    }
    sqlite3 *db = required_handle(args[0]);
    if (!db) return NULL;
    return queue_job(s, CHECKPOINT, db, -1, args[1]);
}

static PyObject *Syncer_collect(Syncer *s, PyObject *unused) {
    worker_drain(&s->w);
    pthread_mutex_lock(&s->w.lock);
    Job *j = s->done.head;
    s->done.head = s->done.tail = NULL;
    pthread_mutex_unlock(&s->w.lock);
    PyObject *out = PyList_New(0);
    while (j) {
        Job *next = j->next;
        PyObject *item = NULL;
        if (out) {
            PyObject *message =
                j->message
                    ? PyUnicode_DecodeUTF8(j->message, (Py_ssize_t)strlen(j->message), "replace")
                    : Py_NewRef(Py_None);
            if (message) item = Py_BuildValue("(OiNi)", j->token, j->rc, message, j->sync_errno);
            if (!item || PyList_Append(out, item) < 0) Py_CLEAR(out);
            Py_XDECREF(item);
        }
        free_job(j);
        j = next;
    }
    return out;
}

static PyObject *Syncer_syncs(Syncer *s, PyObject *unused) {
    unsigned long long counts[MAX_BOUNDS + 1];
    pthread_mutex_lock(&s->w.lock);
    memcpy(counts, s->counts, sizeof counts);
    double seconds = s->sync_seconds;
    pthread_mutex_unlock(&s->w.lock);
    PyObject *out = PyTuple_New(s->nbounds + 1);
    if (!out) return NULL;
    for (int i = 0; i <= s->nbounds; i++) {
        PyObject *count = PyLong_FromUnsignedLongLong(counts[i]);
        if (!count) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, count);
    }
    return Py_BuildValue("(Nd)", out, seconds);
}

static PyObject *Syncer_fileno(Syncer *s, PyObject *unused) {
    return PyLong_FromLong(s->w.efd);
}

static PyObject *Syncer_close(Syncer *s, PyObject *unused) {
    s->closed = 1;
    worker_stop(&s->w);
    Py_RETURN_NONE;
}

/* With the GIL: frees q's jobs, uncollected. */
static void drop(Queue *q) {
    for (Job *j = q->head, *next; j; j = next) {
        next = j->next;
        free_job(j);
    }
    q->head = q->tail = NULL;
}

static void Syncer_dealloc(Syncer *s) {
    s->closed = 1;
    worker_stop(&s->w);
    drop(&s->todo);
    drop(&s->done);
    worker_free(&s->w);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Syncer_methods[] = {
    {"commit", (PyCFunction)(void (*)(void))Syncer_commit, METH_FASTCALL,
     "commit(handle, fd, token): COMMIT on handle (0: none), then fdatasync(fd) (< 0: none)"},
    {"execute", (PyCFunction)(void (*)(void))Syncer_execute, METH_FASTCALL,
     "execute(handle, statements, token): (sql, param) pairs in one transaction on handle"},
    {"checkpoint", (PyCFunction)(void (*)(void))Syncer_checkpoint, METH_FASTCALL,
     "checkpoint(handle, token): wal_checkpoint(PASSIVE) on handle"},
    {"collect", (PyCFunction)Syncer_collect, METH_NOARGS,
     "collect() -> [(token, rc, message, errno)]: what the thread finished, in order"},
    {"fileno", (PyCFunction)Syncer_fileno, METH_NOARGS, "the eventfd collect() is ready on"},
    {"syncs", (PyCFunction)Syncer_syncs, METH_NOARGS,
     "syncs() -> (counts, seconds): the fdatasyncs so far, by bucket of bounds, and their total"},
    {"close", (PyCFunction)Syncer_close, METH_NOARGS, "finish what was queued, stop the thread"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SyncerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "parley.storage.sqlite._syncer.Syncer",
    .tp_basicsize = sizeof(Syncer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Syncer_new,
    .tp_dealloc = (destructor)Syncer_dealloc,
    .tp_methods = Syncer_methods,
    .tp_doc = "Commits and syncs SQLite batches on a thread without the GIL.",
};

/* -- handles ---------------------------------------------------------------------------- */

static _Thread_local int armed;
static _Thread_local sqlite3 *caught;

static int on_open(sqlite3 *db, char **err, const struct sqlite3_api_routines *api) {
    if (armed) {
        caught = db;
        armed = 0;
    }
    return SQLITE_OK;
}

static PyObject *capture(PyObject *module, PyObject *unused) {
    armed = 1;
    caught = NULL;
    Py_RETURN_NONE;
}

static PyObject *captured(PyObject *module, PyObject *unused) {
    sqlite3 *db = caught;
    armed = 0;
    caught = NULL;
    return PyLong_FromVoidPtr(db);
}

static PyObject *filename(PyObject *module, PyObject *arg) {
    sqlite3 *db = required_handle(arg);
    if (!db) return NULL;
    const char *name = sqlite3_db_filename(db, "main");
    return PyUnicode_DecodeFSDefault(name ? name : "");
}

/* -- memory statistics ------------------------------------------------------------------- */

/* SQLite counts every allocation under one global mutex unless its memory statistics
 * are off (SQLITE_DEFAULT_MEMSTATUS, on in most builds): the event loop, this thread and
 * the search writer then take turns at that mutex for every malloc and free, and one of
 * them preempted while holding it stops the others. The setting can only change while
 * SQLite is not initialized, and Python's sqlite3 module initializes it on import, so
 * this shuts SQLite down and starts it again, only while it holds no memory at all (no
 * connection open anywhere in the process), and registers on_open again (a shutdown
 * forgets the auto-extensions). The caller makes sure no other thread opens a
 * connection meanwhile. */
static PyObject *memstatus_off(PyObject *module, PyObject *unused) {
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc == SQLITE_MISUSE) { /* initialized */
        void *probe = sqlite3_malloc(8);
        if (!probe) return PyErr_NoMemory();
        sqlite3_int64 counted = sqlite3_memory_used();
        sqlite3_free(probe);
        if (counted == 0) Py_RETURN_TRUE; /* not counting: off already */
        sqlite3_reset_auto_extension(); /* frees on_open's entry, the one allocation ours */
        if (sqlite3_memory_used() == 0) { /* nothing open: SQLite may stop */
            rc = sqlite3_shutdown();
            if (rc == SQLITE_OK) rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
            if (sqlite3_initialize() != SQLITE_OK) {
                PyErr_SetString(PyExc_RuntimeError, "SQLite did not start again");
                return NULL;
            }
        }
        if (sqlite3_auto_extension((void (*)(void))on_open) != SQLITE_OK) {
            PyErr_SetString(PyExc_RuntimeError, "sqlite3_auto_extension failed");
            return NULL;
        }
    }
    return PyBool_FromLong(rc == SQLITE_OK);
}

static PyMethodDef module_methods[] = {
    {"memstatus_off", memstatus_off, METH_NOARGS,
     "memstatus_off() -> bool: SQLite's memory statistics (a global mutex) off, if no "
     "connection is open"},
    {"capture", capture, METH_NOARGS, "record the next connection this thread opens"},
    {"captured", captured, METH_NOARGS, "its handle, or 0"},
    {"filename", filename, METH_O, "filename(handle) -> the main database's file"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_syncer",
    .m_doc = "SQLite commits and syncs without the GIL.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__syncer(void) {
    if (!sqlite3_threadsafe()) { /* a connection is used by two threads in turn */
        PyErr_SetString(PyExc_ImportError, "this SQLite is built without thread safety");
        return NULL;
    }
    if (PyType_Ready(&SyncerType) < 0) return NULL;
    if (sqlite3_auto_extension((void (*)(void))on_open) != SQLITE_OK) {
        PyErr_SetString(PyExc_ImportError, "sqlite3_auto_extension failed");
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Syncer", (PyObject *)&SyncerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
