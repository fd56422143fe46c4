/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kill-reason.h"
#include "macros.h"
#include "reload-outcome.h"
#include "slot.h"

/* What a master hands to the binary it executes in its own place (an
 * upgrade, or the way back after a failed one): everything the new process
 * image cannot learn by itself, as plain data. Fds are numbers valid in the
 * executed image: every one named here is kept open across the exec (and
 * no other). The text form is serialize.h's, major version
 * STATE_FORMAT_MAJOR:
 *
 *   identity version=V build-id=HEX
 *       the binary that wrote the state
 *   master config=PATH reloads=N last-reload=OUTCOME reload-queued=B
 *          reloads-applied=N reloads-refused=N reloads-rolled-back=N
 *          started-realtime=USEC last-generation=N ready-fd=FD
 *          ready-worker-fd=FD upgrades=N last-upgrade=TEXT
 *       OUTCOME is applied, refused or rolled-back (reload-outcome.h);
 *       started-realtime is when the daemon started (CLOCK_REALTIME)
 *   compat worker-score=BYTES service-score=BYTES park=V readiness=V
 *       the layouts that running workers share with the master: a binary
 *       with other ones cannot take them over
 *   listener key=K bound=ADDR address=ADDR fd=FD systemd=B stored=B
 *       an open listening socket, by canonical address (listener.h)
 *   systemd-socket fd=FD name=NAME used=B
 *       a socket systemd passed (socket activation or the fd store)
 *   service name=N restarts=N connections=N requests=N bytes-in=N
 *           bytes-out=N crashes=N kills-REASON=N listen-queue-peak=N
 *           scoreboard-fd=FD capacity=N park-fd=FD park-worker-fd=FD
 *           front-kill=USEC drained=B
 *       the counters of the workers that have exited (kill-reason.h's
 *       reasons, '_' written as '-')
 *   generation number=N current=B kill=USEC shutdown-timeout=USEC
 *              [config=TEXT]
 *       the current generation carries its configuration, as libconfig
 *       text with every @include expanded; retiring ones only their shape
 *   pool generation=N service=NAME workers=N size=N
 *       workers: its slots; size: the workers it keeps (a scaled pool's
 *       differ from the configuration's)
 *   slot generation=N service=NAME index=N state=S pid=PID ever-ready=B
 *        started=USEC crashes=N backoff=USEC backoff-until=USEC score=N
 *        ready-deadline=USEC watchdog-deadline=USEC kill-reason=REASON
 *        status=TEXT
 *       generation 0 is the service's front stage; score is the entry in
 *       the service's scoreboard (absent: none); the deadlines are its
 *       policy's (slot-policy.h, 0: none), kill-reason why the master
 *       is killing it (absent: it is not), status its last STATUS=
 *   output fd=FD service=NAME slot=N generation=N pid=PID identifier=TEXT
 *          stderr=B
 *       a pipe that carries a program's stdout or stderr (output.h)
 *   upgrade started=USEC
 *       an upgrade is under way (from the writer to the executed binary)
 *   upgrade-refused reason=TEXT version=V build-id=HEX
 *       the executed binary gave up and hands back (its identity)
 *   fd name=NAME fd=FD
 *       any other fd kept across the exec, by its user's name
 *
 * USEC values are CLOCK_MONOTONIC microseconds, which the exec keeps, or
 * "infinity"; B is 0 or 1. */

#define STATE_FORMAT_MAJOR 1U
#define STATE_FORMAT_MINOR 0U
/* The park channel and readiness message layouts (park.h, readiness.h). */
#define STATE_READINESS_VERSION 1U

typedef struct BinaryIdentity {
        char version[64];
        char build_id[96];            /* hex, or "ino:INODE:mtime:SEC.NSEC" when there is none */
} BinaryIdentity;

typedef struct StateListener {
        char *key;
        char *bound;
        char *address;
        int fd;
        bool from_systemd;
        bool stored;                  /* pushed to systemd's fd store */
} StateListener;

typedef struct StateSystemdSocket {
        int fd;
        char *name;
        bool used;
} StateSystemdSocket;

typedef struct StateService {
        char *name;
        uint64_t restarts;
        uint64_t connections_done;
        uint64_t requests_done;
        uint64_t bytes_in_done, bytes_out_done;
        uint64_t crashes;
        uint64_t kills[_KILL_REASON_MAX];
        uint64_t listen_queue_peak;
        int scoreboard_fd;
        size_t capacity;
        int park_fds[2];
        uint64_t front_kill_usec;
        bool drained;
} StateService;

typedef struct StateGeneration {
        unsigned number;
        bool current;
        uint64_t kill_usec;
        uint64_t shutdown_timeout_usec;
        char *config;                 /* the current one's snapshot, else NULL */
} StateGeneration;

typedef struct StatePool {
        unsigned generation;
        char *service;
        unsigned workers;             /* slots */
        unsigned size;                /* workers kept */
} StatePool;

typedef struct StateSlot {
        unsigned generation;          /* 0: the service's front stage */
        char *service;
        unsigned index;
        SlotState state;
        pid_t pid;
        bool ever_ready;
        uint64_t started_usec;
        unsigned crashes;
        uint64_t backoff_usec;
        uint64_t backoff_until_usec;
        int score;                    /* scoreboard entry, -1: none */
        uint64_t ready_deadline_usec;
        uint64_t watchdog_deadline_usec;
        int kill_reason;              /* KillReason, -1: none */
        char *status;
} StateSlot;

typedef struct StateOutput {
        int fd;
        char *service;
        unsigned slot;
        unsigned generation;
        pid_t pid;
        char *identifier;
        bool is_stderr;
} StateOutput;

typedef struct StateFd {
        char *name;
        int fd;
} StateFd;

typedef struct MasterState {
        BinaryIdentity identity;      /* the binary that wrote it */
        char *config_path;
        unsigned n_reloads;
        int last_reload;              /* ReloadOutcome, -1: none yet */
        uint64_t reloads_by_outcome[_RELOAD_OUTCOME_MAX];
        uint64_t start_realtime_usec;
        bool reload_queued;
        unsigned last_generation;
        unsigned n_upgrades;          /* upgrades that ended (done or refused) */
        char *last_upgrade;           /* how the last one ended, for STATUS= */
        int ready_fd;
        int ready_worker_fd;

        size_t worker_score_size;
        size_t service_score_size;
        unsigned park_version;
        unsigned readiness_version;

        StateListener *listeners;
        size_t n_listeners;
        StateSystemdSocket *systemd_sockets;
        size_t n_systemd_sockets;
        StateService *services;
        size_t n_services;
        StateGeneration *generations;
        size_t n_generations;
        StatePool *pools;
        size_t n_pools;
        StateSlot *slots;
        size_t n_slots;
        StateFd *fds;
        size_t n_fds;
        StateOutput *outputs;
        size_t n_outputs;

        bool upgrading;               /* "upgrade": the reader is the new binary */
        uint64_t upgrade_started_usec;
        bool upgrade_refused;         /* "upgrade-refused": the reader is the old one, back */
        char *upgrade_refused_reason;
        BinaryIdentity upgrade_target;
} MasterState;

/* This binary's identity. */
void binary_identity_self(BinaryIdentity *ret);
/* "0.1.0 (build-id 4f1c...)" */
const char *binary_identity_format(const BinaryIdentity *id, char *buf, size_t size);

MasterState *master_state_free(MasterState *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(MasterState *, master_state_free)

/* Appending, for the capture: each returns the new zeroed element (fds
 * -EBADF, score -1) or NULL on ENOMEM. */
StateListener *master_state_add_listener(MasterState *s);
StateSystemdSocket *master_state_add_systemd_socket(MasterState *s);
StateService *master_state_add_service(MasterState *s);
StateGeneration *master_state_add_generation(MasterState *s);
StatePool *master_state_add_pool(MasterState *s);
StateSlot *master_state_add_slot(MasterState *s);
int master_state_add_fd(MasterState *s, const char *name, int fd);
StateOutput *master_state_add_output(MasterState *s);

/* A new state with every fd -EBADF; NULL on ENOMEM. */
MasterState *master_state_new(void);

/* The text form. */
int master_state_format(const MasterState *s, char **ret, size_t *ret_size);
/* Parses and checks the text: every reference (a slot's generation and
 * service, a pool's generation) resolves, every fd is a number, nothing
 * is named twice. No fd is touched. On failure *ret_error says what and
 * where. */
int master_state_parse(const char *text, size_t size, MasterState **ret, char **ret_error);

/* Every fd the state names, in *ret (n of them): the set to keep across
 * the exec. */
int master_state_fds(const MasterState *s, int **ret, size_t *ret_n);

const StateService *master_state_find_service(const MasterState *s, const char *name);
const StateGeneration *master_state_find_generation(const MasterState *s, unsigned number);
/* The fd kept under name, or -ENOENT. */
int master_state_find_fd(const MasterState *s, const char *name);
