/*
 * The balancer's byte pump: once a client and its backend are joined (the backend has
 * answered, nothing is kept for a retry any more), the TypeScript side hands both sockets
 * here and this thread moves their bytes with read(2)/write(2) on its own epoll set. No
 * JavaScript runs per chunk, which is what a Node.js proxy otherwise spends most of its
 * CPU on (two callbacks and two stream writes per request).
 *
 * Contract with proxy/pump.ts:
 * - start(onClose) once; add(clientFd, backendFd, id, idleMs) dups both descriptors (the
 *   JavaScript sockets are destroyed right after, which closes only their copies).
 * - Half-close is carried both ways: an end of stream from one side is a shutdown(SHUT_WR)
 *   of the other once every byte before it is written.
 * - A pair ends when both directions ended, on an error, after idleMs without a byte either
 *   way, or when close(id)/closeAll() asks. onClose(id, bytesIn, bytesOut, reason) is then
 *   called on the JavaScript thread, exactly once per pair.
 * - Nothing here blocks the JavaScript thread: commands go through a queue and an eventfd.
 * NB: Linux only (epoll, eventfd); pump.ts falls back to the JavaScript path elsewhere.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

#define READ_SIZE (64 * 1024)
#define MAX_EVENTS 256
#define SWEEP_MS 250

enum reason { R_ENDED = 0, R_ERROR = 1, R_IDLE = 2, R_CLOSED = 3 };
static const char *REASONS[] = {"ended", "error", "idle", "closed"};

struct pair;

/* One direction of a pair: bytes read from `from` go to `to`. */
struct flow {
  int from, to;
  char *pending; /* bytes read but not yet written (the peer's buffer was full) */
  size_t pendingOff, pendingLen;
  int ended;    /* `from` reached end of stream */
  int shutDown; /* `to` got its shutdown(SHUT_WR) */
  uint64_t bytes;
};

/* What epoll hands back: the pair and which of its two descriptors. */
struct endpoint {
  struct pair *pair;
  int side; /* 0 = client, 1 = backend */
};

struct pair {
  uint32_t id;
  int fds[2];
  struct flow flows[2]; /* 0: client -> backend, 1: backend -> client */
  struct endpoint ends[2];
  uint32_t interest[2];
  int registered[2]; /* in the epoll set (a side that wants nothing is taken out of it) */
  int64_t lastActive, idleMs;
  int done;
  struct pair *prev, *next;
};

struct command {
  enum { C_ADD, C_CLOSE, C_CLOSE_ALL } kind;
  struct pair *pair; /* C_ADD */
  uint32_t id;       /* C_CLOSE */
  struct command *next;
};

struct closed {
  uint32_t id;
  uint64_t bytesIn, bytesOut;
  enum reason reason;
};

static int epollFd = -1, wakeFd = -1;
static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct command *queueHead, *queueTail;
static struct pair *pairs; /* owned by the pump thread */
static napi_threadsafe_function onClose;
static char readBuffer[READ_SIZE];

static int64_t nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setInterest(struct pair *p, int side) {
  struct flow *reading = &p->flows[side];      /* this side is its `from` */
  struct flow *writing = &p->flows[1 - side];  /* this side is its `to` */
  uint32_t want = 0;
  if (!reading->ended && reading->pendingLen == 0) want |= EPOLLIN | EPOLLRDHUP;
  if (writing->pendingLen > 0) want |= EPOLLOUT;
  if (want == p->interest[side] && (want != 0) == p->registered[side]) return;
  p->interest[side] = want;
  /* A side that wants nothing leaves the epoll set: epoll reports a hang-up whatever the
     interest, and level-triggered it would be reported again at every wait until the other
     side made room. */
  if (want == 0) {
    if (p->registered[side]) epoll_ctl(epollFd, EPOLL_CTL_DEL, p->fds[side], NULL);
    p->registered[side] = 0;
    return;
  }
  struct epoll_event ev = {.events = want, .data.ptr = &p->ends[side]};
  epoll_ctl(epollFd, p->registered[side] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, p->fds[side], &ev);
  p->registered[side] = 1;
}

static void finish(struct pair *p, enum reason reason) {
  if (p->done) return;
  p->done = 1;
  for (int side = 0; side < 2; side++) {
    if (p->registered[side]) epoll_ctl(epollFd, EPOLL_CTL_DEL, p->fds[side], NULL);
    close(p->fds[side]);
    free(p->flows[side].pending);
  }
  if (p->prev) p->prev->next = p->next;
  else pairs = p->next;
  if (p->next) p->next->prev = p->prev;
  struct closed *c = malloc(sizeof *c);
  if (c) {
    c->id = p->id;
    c->bytesIn = p->flows[0].bytes;
    c->bytesOut = p->flows[1].bytes;
    c->reason = reason;
    napi_call_threadsafe_function(onClose, c, napi_tsfn_nonblocking);
  }
  /* Freed later: an endpoint of this pair may still be in the current batch of events. */
  p->next = NULL;
}

/* Writes what is pending on a flow; returns -1 on a write error. */
static int flush(struct flow *f) {
  while (f->pendingLen > 0) {
    ssize_t n = send(f->to, f->pending + f->pendingOff, f->pendingLen, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    f->pendingOff += (size_t)n;
    f->pendingLen -= (size_t)n;
  }
  free(f->pending);
  f->pending = NULL;
  f->pendingOff = 0;
  return 0;
}

/* Reads from a flow's source and writes to its sink until either would block. */
static int pumpFlow(struct flow *f) {
  for (int rounds = 0; rounds < 16 && !f->ended && f->pendingLen == 0; rounds++) {
    ssize_t n = recv(f->from, readBuffer, READ_SIZE, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    if (n == 0) {
      f->ended = 1;
      break;
    }
    f->bytes += (uint64_t)n;
    ssize_t w = send(f->to, readBuffer, (size_t)n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN && errno != EINTR) return -1;
      w = 0;
    }
    if (w < n) {
      f->pending = malloc((size_t)(n - w));
      if (!f->pending) return -1;
      memcpy(f->pending, readBuffer + w, (size_t)(n - w));
      f->pendingLen = (size_t)(n - w);
      f->pendingOff = 0;
    }
    if (n < READ_SIZE) break; /* drained for now: epoll says when there is more */
  }
  return 0;
}

/* After any progress: carry an ended flow's end of stream once its bytes are out. */
static void settle(struct pair *p) {
  for (int i = 0; i < 2; i++) {
    struct flow *f = &p->flows[i];
    if (f->ended && f->pendingLen == 0 && !f->shutDown) {
      shutdown(f->to, SHUT_WR);
      f->shutDown = 1;
    }
  }
  if (p->flows[0].shutDown && p->flows[1].shutDown) {
    finish(p, R_ENDED);
    return;
  }
  setInterest(p, 0);
  setInterest(p, 1);
}

static void onEvent(struct endpoint *e, uint32_t events) {
  struct pair *p = e->pair;
  if (p->done) return;
  int side = e->side;
  p->lastActive = nowMs();
  if (events & EPOLLOUT) {
    if (flush(&p->flows[1 - side]) < 0) return finish(p, R_ERROR);
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    if (pumpFlow(&p->flows[side]) < 0) return finish(p, R_ERROR);
  }
  if (events & EPOLLERR) return finish(p, R_ERROR);
  settle(p);
  /* A hang-up on a side that already ended its stream, with the pair still open: that
     peer is gone both ways (reset), so what is left for it cannot be delivered. Without
     this a level-triggered hang-up would be reported again at every wait. */
  if (!p->done && (events & EPOLLHUP) && p->flows[side].ended) finish(p, R_ERROR);
}

static void add(struct pair *p) {
  p->lastActive = nowMs();
  p->next = pairs;
  if (pairs) pairs->prev = p;
  pairs = p;
  for (int side = 0; side < 2; side++) {
    p->ends[side].pair = p;
    p->ends[side].side = side;
    p->interest[side] = EPOLLIN | EPOLLRDHUP;
    struct epoll_event ev = {.events = p->interest[side], .data.ptr = &p->ends[side]};
    if (epoll_ctl(epollFd, EPOLL_CTL_ADD, p->fds[side], &ev) < 0) {
      finish(p, R_ERROR);
      return;
    }
    p->registered[side] = 1;
  }
  /* Bytes may have arrived between the hand-over and now: epoll (level) reports them. */
}

static void runCommands(struct pair **graveyard) {
  pthread_mutex_lock(&lock);
  struct command *c = queueHead;
  queueHead = queueTail = NULL;
  pthread_mutex_unlock(&lock);
  while (c) {
    struct command *next = c->next;
    if (c->kind == C_ADD) {
      add(c->pair);
      if (c->pair->done) {
        c->pair->next = *graveyard;
        *graveyard = c->pair;
      }
    } else {
      for (struct pair *p = pairs, *n; p; p = n) {
        n = p->next;
        if (c->kind == C_CLOSE_ALL || p->id == c->id) {
          finish(p, R_CLOSED);
          p->next = *graveyard;
          *graveyard = p;
        }
      }
    }
    free(c);
    c = next;
  }
}

static void *loop(void *unused) {
  (void)unused;
  struct epoll_event events[MAX_EVENTS];
  int64_t lastSweep = nowMs();
  for (;;) {
    int n = epoll_wait(epollFd, events, MAX_EVENTS, SWEEP_MS);
    struct pair *graveyard = NULL;
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        uint64_t count;
        if (read(wakeFd, &count, sizeof count) < 0) { /* nothing: woken anyway */ }
        runCommands(&graveyard);
        continue;
      }
      struct endpoint *e = events[i].data.ptr;
      struct pair *p = e->pair;
      if (p->done) continue;
      onEvent(e, events[i].events);
      if (p->done) {
        p->next = graveyard;
        graveyard = p;
      }
    }
    int64_t now = nowMs();
    if (now - lastSweep >= SWEEP_MS) {
      lastSweep = now;
      for (struct pair *p = pairs, *next; p; p = next) {
        next = p->next;
        if (p->idleMs > 0 && now - p->lastActive >= p->idleMs) {
          finish(p, R_IDLE);
          p->next = graveyard;
          graveyard = p;
        }
      }
    }
    while (graveyard) {
      struct pair *next = graveyard->next;
      free(graveyard);
      graveyard = next;
    }
  }
  return NULL;
}

static void enqueue(struct command *c) {
  c->next = NULL;
  pthread_mutex_lock(&lock);
  if (queueTail) queueTail->next = c;
  else queueHead = c;
  queueTail = c;
  pthread_mutex_unlock(&lock);
  uint64_t one = 1;
  if (write(wakeFd, &one, sizeof one) < 0) { /* the counter is full: a wake-up is pending */ }
}

/* ---- JavaScript side ---- */

static void callOnClose(napi_env env, napi_value js, void *context, void *data) {
  (void)context;
  struct closed *c = data;
  if (env != NULL && js != NULL) {
    napi_value args[4], undefined;
    napi_create_uint32(env, c->id, &args[0]);
    napi_create_double(env, (double)c->bytesIn, &args[1]);
    napi_create_double(env, (double)c->bytesOut, &args[2]);
    napi_create_string_utf8(env, REASONS[c->reason], NAPI_AUTO_LENGTH, &args[3]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, js, 4, args, NULL);
  }
  free(c);
}

static napi_value throwErrno(napi_env env, const char *what) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* start(onClose): once per process. */
static napi_value Start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name;
  napi_valuetype type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok ||
      type != napi_function) {
    napi_throw_type_error(env, NULL, "start(onClose) takes a function");
    return NULL;
  }
  if (epollFd >= 0) {
    napi_throw_error(env, NULL, "the pump is already started");
    return NULL;
  }
  epollFd = epoll_create1(EPOLL_CLOEXEC);
  if (epollFd < 0) return throwErrno(env, "epoll_create1");
  wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd < 0) return throwErrno(env, "eventfd");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epollFd, EPOLL_CTL_ADD, wakeFd, &ev);
  napi_create_string_utf8(env, "meshkv-pump", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, callOnClose, &onClose) != napi_ok) {
    napi_throw_error(env, NULL, "cannot create the close callback");
    return NULL;
  }
  /* The pump alone must not keep the process alive: open connections are tracked in JS. */
  napi_unref_threadsafe_function(env, onClose);
  if (pthread_create(&thread, NULL, loop, NULL) != 0) return throwErrno(env, "pthread_create");
  pthread_detach(thread);
  return NULL;
}

/* add(clientFd, backendFd, id, idleMs): copies both descriptors; the caller closes its own. */
static napi_value Add(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t clientFd, backendFd;
  uint32_t id;
  int64_t idleMs;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &clientFd) != napi_ok || napi_get_value_int32(env, argv[1], &backendFd) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &id) != napi_ok || napi_get_value_int64(env, argv[3], &idleMs) != napi_ok) {
    napi_throw_type_error(env, NULL, "add(clientFd, backendFd, id, idleMs) takes four numbers");
    return NULL;
  }
  struct pair *p = calloc(1, sizeof *p);
  struct command *c = calloc(1, sizeof *c);
  if (!p || !c) {
    free(p);
    free(c);
    errno = ENOMEM;
    return throwErrno(env, "add");
  }
  p->fds[0] = fcntl(clientFd, F_DUPFD_CLOEXEC, 0);
  p->fds[1] = fcntl(backendFd, F_DUPFD_CLOEXEC, 0);
  if (p->fds[0] < 0 || p->fds[1] < 0) {
    if (p->fds[0] >= 0) close(p->fds[0]);
    if (p->fds[1] >= 0) close(p->fds[1]);
    free(p);
    free(c);
    return throwErrno(env, "dup");
  }
  p->id = id;
  p->idleMs = idleMs;
  p->flows[0].from = p->fds[0];
  p->flows[0].to = p->fds[1];
  p->flows[1].from = p->fds[1];
  p->flows[1].to = p->fds[0];
  c->kind = C_ADD;
  c->pair = p;
  enqueue(c);
  return NULL;
}

/* close(id) or close() for every pair: each ends with the reason "closed". */
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct command *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->kind = C_CLOSE_ALL;
  uint32_t id;
  if (argc >= 1 && napi_get_value_uint32(env, argv[0], &id) == napi_ok) {
    c->kind = C_CLOSE;
    c->id = id;
  }
  enqueue(c);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"start", NULL, Start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"add", NULL, Add, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(pump, Init)
