/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "build-id.h"
#include "serialize.h"
#include "state.h"
#include "time-util.h"
#include "version.h"

/* A record key from one of reload-outcome.h's or kill-reason.h's names:
 * prefix, then the name with '-' for '_' (keys allow no '_'). Derived, so
 * that a reason added there is carried without a table to update here. */
static const char *name_key(const char *prefix, const char *name, char *buf, size_t size) {
        size_t n;

        assert(name);
        (void) snprintf(buf, size, "%s%s", prefix, name);
        n = strlen(prefix);
        for (char *p = buf + n; *p; p++)
                if (*p == '_')
                        *p = '-';
        return buf;
}

static const char *outcome_key(int o, char *buf, size_t size) {
        return name_key("", reload_outcome_to_label((ReloadOutcome) o), buf, size);
}

static const char *reloads_key(int o, char *buf, size_t size) {
        return name_key("reloads-", reload_outcome_to_label((ReloadOutcome) o), buf, size);
}

static const char *kills_key(int k, char *buf, size_t size) {
        return name_key("kills-", kill_reason_to_string((KillReason) k), buf, size);
}

static int outcome_from_key(const char *s) {
        char buf[SERIALIZE_KEY_MAX];

        for (int i = 0; i < _RELOAD_OUTCOME_MAX; i++)
                if (s && strcmp(outcome_key(i, buf, sizeof buf), s) == 0)
                        return i;
        return -EINVAL;
}

static const char *const slot_state_keys[_SLOT_STATE_MAX] = {
        [SLOT_DEAD] = "dead",
        [SLOT_STARTING] = "starting",
        [SLOT_RUNNING] = "running",
        [SLOT_BACKOFF] = "backoff",
        [SLOT_RETIRING] = "retiring",
};

void binary_identity_self(BinaryIdentity *ret) {
        assert(ret);

        *ret = (BinaryIdentity) { .version = "" };
        (void) snprintf(ret->version, sizeof ret->version, "%s", PREFORKD_VERSION);
        if (build_id_self(ret->build_id, sizeof ret->build_id) < 0)
                strcpy(ret->build_id, "unknown");
}

const char *binary_identity_format(const BinaryIdentity *id, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s (build-id %s)", id->version, id->build_id);
        return buf;
}

MasterState *master_state_new(void) {
        MasterState *s = calloc(1, sizeof(MasterState));

        if (!s)
                return NULL;
        s->ready_fd = s->ready_worker_fd = -EBADF;
        s->last_reload = -1;
        return s;
}

MasterState *master_state_free(MasterState *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_listeners; i++) {
                free(s->listeners[i].key);
                free(s->listeners[i].bound);
                free(s->listeners[i].address);
        }
        free(s->listeners);
        for (size_t i = 0; i < s->n_systemd_sockets; i++)
                free(s->systemd_sockets[i].name);
        free(s->systemd_sockets);
        for (size_t i = 0; i < s->n_services; i++)
                free(s->services[i].name);
        free(s->services);
        for (size_t i = 0; i < s->n_generations; i++)
                free(s->generations[i].config);
        free(s->generations);
        for (size_t i = 0; i < s->n_pools; i++)
                free(s->pools[i].service);
        free(s->pools);
        for (size_t i = 0; i < s->n_slots; i++) {
                free(s->slots[i].service);
                free(s->slots[i].status);
        }
        free(s->slots);
        for (size_t i = 0; i < s->n_fds; i++)
                free(s->fds[i].name);
        free(s->fds);
        for (size_t i = 0; i < s->n_outputs; i++) {
                free(s->outputs[i].service);
                free(s->outputs[i].identifier);
        }
        free(s->outputs);
        free(s->config_path);
        free(s->last_upgrade);
        free(s->upgrade_refused_reason);
        free(s);
        return NULL;
}

/* Grows *array of *n elements of size by one zeroed element. */
static void *grow(void *array_ptr, size_t *n, size_t size) {
        void **array = array_ptr;
        char *a = realloc(*array, (*n + 1) * size);

        if (!a)
                return NULL;
        *array = a;
        memset(a + *n * size, 0, size);
        return a + (*n)++ * size;
}

StateListener *master_state_add_listener(MasterState *s) {
        StateListener *l = grow(&s->listeners, &s->n_listeners, sizeof(StateListener));

        if (l)
                l->fd = -EBADF;
        return l;
}

StateSystemdSocket *master_state_add_systemd_socket(MasterState *s) {
        StateSystemdSocket *l = grow(&s->systemd_sockets, &s->n_systemd_sockets, sizeof(StateSystemdSocket));

        if (l)
                l->fd = -EBADF;
        return l;
}

StateService *master_state_add_service(MasterState *s) {
        StateService *v = grow(&s->services, &s->n_services, sizeof(StateService));

        if (v)
                v->scoreboard_fd = v->park_fds[0] = v->park_fds[1] = -EBADF;
        return v;
}

StateGeneration *master_state_add_generation(MasterState *s) {
        return grow(&s->generations, &s->n_generations, sizeof(StateGeneration));
}

StatePool *master_state_add_pool(MasterState *s) {
        return grow(&s->pools, &s->n_pools, sizeof(StatePool));
}

StateSlot *master_state_add_slot(MasterState *s) {
        StateSlot *l = grow(&s->slots, &s->n_slots, sizeof(StateSlot));

        if (l)
                l->score = l->kill_reason = -1;
        return l;
}

StateOutput *master_state_add_output(MasterState *s) {
        StateOutput *o = grow(&s->outputs, &s->n_outputs, sizeof(StateOutput));

        if (o)
                o->fd = -EBADF;
        return o;
}

int master_state_add_fd(MasterState *s, const char *name, int fd) {
        StateFd *f;
        char *n;

        assert(name);
        assert(fd >= 0);

        n = strdup(name);
        if (!n)
                return -ENOMEM;
        f = grow(&s->fds, &s->n_fds, sizeof(StateFd));
        if (!f) {
                free(n);
                return -ENOMEM;
        }
        *f = (StateFd) { .name = n, .fd = fd };
        return 0;
}

static void serialize_fd(SerializeWriter *w, const char *key, int fd) {
        if (fd >= 0)
                serialize_u64(w, key, (uint64_t) fd);
}

int master_state_format(const MasterState *s, char **ret, size_t *ret_size) {
        char key[SERIALIZE_KEY_MAX];
        SerializeWriter w;
        int r;

        assert(s);
        assert(ret);

        r = serialize_writer_init(&w, STATE_FORMAT_MAJOR, STATE_FORMAT_MINOR);
        if (r < 0)
                return r;

        serialize_record(&w, "identity");
        serialize_str(&w, "version", s->identity.version);
        serialize_str(&w, "build-id", s->identity.build_id);

        serialize_record(&w, "master");
        serialize_str(&w, "config", s->config_path ? s->config_path : "");
        serialize_u64(&w, "reloads", s->n_reloads);
        if (s->last_reload >= 0)
                serialize_str(&w, "last-reload", outcome_key(s->last_reload, key, sizeof key));
        for (int i = 0; i < _RELOAD_OUTCOME_MAX; i++)
                serialize_u64(&w, reloads_key(i, key, sizeof key), s->reloads_by_outcome[i]);
        serialize_u64(&w, "started-realtime", s->start_realtime_usec);
        serialize_bool(&w, "reload-queued", s->reload_queued);
        serialize_u64(&w, "last-generation", s->last_generation);
        serialize_fd(&w, "ready-fd", s->ready_fd);
        serialize_fd(&w, "ready-worker-fd", s->ready_worker_fd);
        serialize_u64(&w, "upgrades", s->n_upgrades);
        if (s->last_upgrade)
                serialize_str(&w, "last-upgrade", s->last_upgrade);

        serialize_record(&w, "compat");
        serialize_u64(&w, "worker-score", s->worker_score_size);
        serialize_u64(&w, "service-score", s->service_score_size);
        serialize_u64(&w, "park", s->park_version);
        serialize_u64(&w, "readiness", s->readiness_version);

        for (size_t i = 0; i < s->n_listeners; i++) {
                const StateListener *l = &s->listeners[i];

                serialize_record(&w, "listener");
                serialize_str(&w, "key", l->key);
                serialize_str(&w, "bound", l->bound ? l->bound : "");
                serialize_str(&w, "address", l->address);
                serialize_fd(&w, "fd", l->fd);
                serialize_bool(&w, "systemd", l->from_systemd);
                serialize_bool(&w, "stored", l->stored);
        }
        for (size_t i = 0; i < s->n_systemd_sockets; i++) {
                const StateSystemdSocket *l = &s->systemd_sockets[i];

                serialize_record(&w, "systemd-socket");
                serialize_fd(&w, "fd", l->fd);
                serialize_str(&w, "name", l->name ? l->name : "");
                serialize_bool(&w, "used", l->used);
        }
        for (size_t i = 0; i < s->n_services; i++) {
                const StateService *v = &s->services[i];

                serialize_record(&w, "service");
                serialize_str(&w, "name", v->name);
                serialize_u64(&w, "restarts", v->restarts);
                serialize_u64(&w, "connections", v->connections_done);
                serialize_u64(&w, "requests", v->requests_done);
                serialize_u64(&w, "bytes-in", v->bytes_in_done);
                serialize_u64(&w, "bytes-out", v->bytes_out_done);
                serialize_u64(&w, "crashes", v->crashes);
                for (int k = 0; k < _KILL_REASON_MAX; k++)
                        serialize_u64(&w, kills_key(k, key, sizeof key), v->kills[k]);
                serialize_u64(&w, "listen-queue-peak", v->listen_queue_peak);
                serialize_fd(&w, "scoreboard-fd", v->scoreboard_fd);
                serialize_u64(&w, "capacity", v->capacity);
                serialize_fd(&w, "park-fd", v->park_fds[0]);
                serialize_fd(&w, "park-worker-fd", v->park_fds[1]);
                serialize_usec(&w, "front-kill", v->front_kill_usec);
                serialize_bool(&w, "drained", v->drained);
        }
        for (size_t i = 0; i < s->n_generations; i++) {
                const StateGeneration *g = &s->generations[i];

                serialize_record(&w, "generation");
                serialize_u64(&w, "number", g->number);
                serialize_bool(&w, "current", g->current);
                serialize_usec(&w, "kill", g->kill_usec);
                serialize_usec(&w, "shutdown-timeout", g->shutdown_timeout_usec);
                if (g->config)
                        serialize_str(&w, "config", g->config);
        }
        for (size_t i = 0; i < s->n_pools; i++) {
                serialize_record(&w, "pool");
                serialize_u64(&w, "generation", s->pools[i].generation);
                serialize_str(&w, "service", s->pools[i].service);
                serialize_u64(&w, "workers", s->pools[i].workers);
                serialize_u64(&w, "size", s->pools[i].size);
        }
        for (size_t i = 0; i < s->n_slots; i++) {
                const StateSlot *l = &s->slots[i];

                serialize_record(&w, "slot");
                serialize_u64(&w, "generation", l->generation);
                serialize_str(&w, "service", l->service);
                serialize_u64(&w, "index", l->index);
                serialize_str(&w, "state", slot_state_keys[l->state]);
                serialize_u64(&w, "pid", (uint64_t) MAX(l->pid, 0));
                serialize_bool(&w, "ever-ready", l->ever_ready);
                serialize_usec(&w, "started", l->started_usec);
                serialize_u64(&w, "crashes", l->crashes);
                serialize_usec(&w, "backoff", l->backoff_usec);
                serialize_usec(&w, "backoff-until", l->backoff_until_usec);
                if (l->score >= 0)
                        serialize_u64(&w, "score", (uint64_t) l->score);
                serialize_usec(&w, "ready-deadline", l->ready_deadline_usec);
                serialize_usec(&w, "watchdog-deadline", l->watchdog_deadline_usec);
                if (l->kill_reason >= 0)
                        serialize_str(&w, "kill-reason", kill_reason_to_string((KillReason) l->kill_reason));
                if (l->status)
                        serialize_str(&w, "status", l->status);
        }
        if (s->upgrading) {
                serialize_record(&w, "upgrade");
                serialize_usec(&w, "started", s->upgrade_started_usec);
        }
        if (s->upgrade_refused) {
                serialize_record(&w, "upgrade-refused");
                serialize_str(&w, "reason", s->upgrade_refused_reason ? s->upgrade_refused_reason : "");
                serialize_str(&w, "version", s->upgrade_target.version);
                serialize_str(&w, "build-id", s->upgrade_target.build_id);
        }
        for (size_t i = 0; i < s->n_outputs; i++) {
                const StateOutput *o = &s->outputs[i];

                serialize_record(&w, "output");
                serialize_fd(&w, "fd", o->fd);
                serialize_str(&w, "service", o->service ? o->service : "");
                serialize_u64(&w, "slot", o->slot);
                serialize_u64(&w, "generation", o->generation);
                serialize_u64(&w, "pid", (uint64_t) MAX(o->pid, 0));
                serialize_str(&w, "identifier", o->identifier ? o->identifier : "");
                serialize_bool(&w, "stderr", o->is_stderr);
        }
        for (size_t i = 0; i < s->n_fds; i++) {
                serialize_record(&w, "fd");
                serialize_str(&w, "name", s->fds[i].name);
                serialize_fd(&w, "fd", s->fds[i].fd);
        }
        return serialize_finish(&w, ret, ret_size);
}

/* ---- parsing ---- */

typedef struct Parse {
        const SerializeRecord *rec;
        char **error;
        int r;
} Parse;

static void parse_fail(Parse *p, const char *key, const char *fmt, ...) _printf_(3, 4);
static void parse_fail(Parse *p, const char *key, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        if (p->r < 0)
                return;
        p->r = -EINVAL;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (p->error && asprintf(p->error, "line %u: %s%s%s: %s", p->rec->line, p->rec->type, key ? " " : "",
                                 key ? key : "", what ? what : "bad value") < 0)
                *p->error = NULL;
}

static void get_str(Parse *p, const char *key, bool required, char **ret) {
        const char *v = serialize_get(p->rec, key);

        if (!v) {
                if (required)
                        parse_fail(p, key, "missing");
                return;
        }
        free(*ret);
        *ret = strdup(v);
        if (!*ret && p->r >= 0)
                p->r = -ENOMEM;
}

static void get_buf(Parse *p, const char *key, char *buf, size_t size) {
        const char *v = serialize_get(p->rec, key);

        if (!v)
                parse_fail(p, key, "missing");
        else if (strlen(v) >= size)
                parse_fail(p, key, "longer than %zu bytes", size - 1);
        else
                strcpy(buf, v);
}

/* A missing optional key keeps the default in *ret. */
static void check(Parse *p, const char *key, int k, bool required) {
        if (k == -ENOENT && !required)
                return;
        if (k == -ENOENT)
                parse_fail(p, key, "missing");
        else if (k < 0)
                parse_fail(p, key, "not a valid value: \"%s\"", serialize_get(p->rec, key));
}

static void get_u64(Parse *p, const char *key, bool required, uint64_t *ret) {
        check(p, key, serialize_get_u64(p->rec, key, ret), required);
}

static void get_unsigned(Parse *p, const char *key, bool required, unsigned *ret) {
        check(p, key, serialize_get_unsigned(p->rec, key, ret), required);
}

static void get_usec(Parse *p, const char *key, bool required, uint64_t *ret) {
        check(p, key, serialize_get_usec(p->rec, key, ret), required);
}

static void get_bool(Parse *p, const char *key, bool required, bool *ret) {
        check(p, key, serialize_get_bool(p->rec, key, ret), required);
}

static void get_fd(Parse *p, const char *key, bool required, int *ret) {
        int k = serialize_get_int(p->rec, key, ret);

        check(p, key, k, required);
        if (k >= 0 && *ret < 3)
                parse_fail(p, key, "fd %d is one of stdin, stdout and stderr", *ret);
}

static int slot_state_from_key(const char *s) {
        for (int i = 0; i < _SLOT_STATE_MAX; i++)
                if (s && strcmp(slot_state_keys[i], s) == 0)
                        return i;
        return -EINVAL;
}

static void parse_one(Parse *p, MasterState *s, bool *seen_identity, bool *seen_master, bool *seen_compat) {
        const SerializeRecord *r = p->rec;
        char key[SERIALIZE_KEY_MAX];

        if (strcmp(r->type, "identity") == 0) {
                get_buf(p, "version", s->identity.version, sizeof s->identity.version);
                get_buf(p, "build-id", s->identity.build_id, sizeof s->identity.build_id);
                *seen_identity = true;
        } else if (strcmp(r->type, "master") == 0) {
                uint64_t reloads = 0;

                get_str(p, "config", true, &s->config_path);
                get_u64(p, "reloads", false, &reloads);
                s->n_reloads = (unsigned) MIN(reloads, (uint64_t) UINT32_MAX);
                if (serialize_get(r, "last-reload")) {
                        s->last_reload = outcome_from_key(serialize_get(r, "last-reload"));
                        if (s->last_reload < 0)
                                parse_fail(p, "last-reload", "unknown outcome \"%s\"", serialize_get(r, "last-reload"));
                }
                for (int i = 0; i < _RELOAD_OUTCOME_MAX; i++)
                        get_u64(p, reloads_key(i, key, sizeof key), false, &s->reloads_by_outcome[i]);
                get_u64(p, "started-realtime", false, &s->start_realtime_usec);
                get_bool(p, "reload-queued", false, &s->reload_queued);
                get_unsigned(p, "last-generation", true, &s->last_generation);
                get_fd(p, "ready-fd", true, &s->ready_fd);
                get_fd(p, "ready-worker-fd", true, &s->ready_worker_fd);
                get_unsigned(p, "upgrades", false, &s->n_upgrades);
                get_str(p, "last-upgrade", false, &s->last_upgrade);
                *seen_master = true;
        } else if (strcmp(r->type, "compat") == 0) {
                uint64_t a = 0, b = 0;

                get_u64(p, "worker-score", true, &a);
                get_u64(p, "service-score", true, &b);
                s->worker_score_size = (size_t) a;
                s->service_score_size = (size_t) b;
                get_unsigned(p, "park", true, &s->park_version);
                get_unsigned(p, "readiness", true, &s->readiness_version);
                *seen_compat = true;
        } else if (strcmp(r->type, "listener") == 0) {
                StateListener *l = master_state_add_listener(s);

                if (!l) {
                        p->r = -ENOMEM;
                        return;
                }
                get_str(p, "key", true, &l->key);
                get_str(p, "bound", false, &l->bound);
                get_str(p, "address", true, &l->address);
                get_fd(p, "fd", true, &l->fd);
                get_bool(p, "systemd", false, &l->from_systemd);
                get_bool(p, "stored", false, &l->stored);
        } else if (strcmp(r->type, "systemd-socket") == 0) {
                StateSystemdSocket *l = master_state_add_systemd_socket(s);

                if (!l) {
                        p->r = -ENOMEM;
                        return;
                }
                get_fd(p, "fd", true, &l->fd);
                get_str(p, "name", false, &l->name);
                get_bool(p, "used", false, &l->used);
        } else if (strcmp(r->type, "service") == 0) {
                StateService *v = master_state_add_service(s);
                uint64_t cap = 0;

                if (!v) {
                        p->r = -ENOMEM;
                        return;
                }
                v->front_kill_usec = USEC_INFINITY;
                get_str(p, "name", true, &v->name);
                get_u64(p, "restarts", false, &v->restarts);
                get_u64(p, "connections", false, &v->connections_done);
                get_u64(p, "requests", false, &v->requests_done);
                get_u64(p, "bytes-in", false, &v->bytes_in_done);
                get_u64(p, "bytes-out", false, &v->bytes_out_done);
                get_u64(p, "crashes", false, &v->crashes);
                for (int k = 0; k < _KILL_REASON_MAX; k++)
                        get_u64(p, kills_key(k, key, sizeof key), false, &v->kills[k]);
                get_u64(p, "listen-queue-peak", false, &v->listen_queue_peak);
                get_fd(p, "scoreboard-fd", true, &v->scoreboard_fd);
                get_u64(p, "capacity", true, &cap);
                if (p->r >= 0 && (cap == 0 || cap > 1000000))
                        parse_fail(p, "capacity", "%" PRIu64 " is out of range", cap);
                v->capacity = (size_t) cap;
                get_fd(p, "park-fd", false, &v->park_fds[0]);
                get_fd(p, "park-worker-fd", false, &v->park_fds[1]);
                if ((v->park_fds[0] >= 0) != (v->park_fds[1] >= 0))
                        parse_fail(p, "park-fd", "needs park-worker-fd, and the other way round");
                get_usec(p, "front-kill", false, &v->front_kill_usec);
                get_bool(p, "drained", false, &v->drained);
        } else if (strcmp(r->type, "generation") == 0) {
                StateGeneration *g = master_state_add_generation(s);

                if (!g) {
                        p->r = -ENOMEM;
                        return;
                }
                get_unsigned(p, "number", true, &g->number);
                if (p->r >= 0 && g->number == 0)
                        parse_fail(p, "number", "must be above 0");
                get_bool(p, "current", true, &g->current);
                g->kill_usec = USEC_INFINITY;
                get_usec(p, "kill", false, &g->kill_usec);
                get_usec(p, "shutdown-timeout", true, &g->shutdown_timeout_usec);
                get_str(p, "config", g->current, &g->config);
        } else if (strcmp(r->type, "pool") == 0) {
                StatePool *l = master_state_add_pool(s);

                if (!l) {
                        p->r = -ENOMEM;
                        return;
                }
                get_unsigned(p, "generation", true, &l->generation);
                get_str(p, "service", true, &l->service);
                get_unsigned(p, "workers", true, &l->workers);
                if (p->r >= 0 && (l->workers == 0 || l->workers > 65536))
                        parse_fail(p, "workers", "%u is out of range", l->workers);
                l->size = l->workers;
                get_unsigned(p, "size", false, &l->size);
                if (p->r >= 0 && (l->size == 0 || l->size > 65536))
                        parse_fail(p, "size", "%u is out of range", l->size);
        } else if (strcmp(r->type, "slot") == 0) {
                StateSlot *l = master_state_add_slot(s);
                uint64_t pid = 0;
                int st;

                if (!l) {
                        p->r = -ENOMEM;
                        return;
                }
                get_unsigned(p, "generation", true, &l->generation);
                get_str(p, "service", true, &l->service);
                get_unsigned(p, "index", true, &l->index);
                st = slot_state_from_key(serialize_get(r, "state"));
                if (st < 0)
                        parse_fail(p, "state", "missing or unknown");
                else
                        l->state = (SlotState) st;
                get_u64(p, "pid", true, &pid);
                if (p->r >= 0 && pid > INT32_MAX)
                        parse_fail(p, "pid", "out of range");
                l->pid = (pid_t) pid;
                if (p->r >= 0 && (l->pid > 0) != IN_SET(l->state, SLOT_STARTING, SLOT_RUNNING, SLOT_RETIRING))
                        parse_fail(p, "pid", "a slot in state %s %s a process", slot_state_keys[l->state],
                                   l->pid > 0 ? "cannot have" : "must have");
                get_bool(p, "ever-ready", false, &l->ever_ready);
                get_usec(p, "started", false, &l->started_usec);
                get_unsigned(p, "crashes", false, &l->crashes);
                get_usec(p, "backoff", false, &l->backoff_usec);
                get_usec(p, "backoff-until", false, &l->backoff_until_usec);
                if (serialize_get(r, "score")) {
                        unsigned score = 0;
                        get_unsigned(p, "score", true, &score);
                        l->score = score > INT32_MAX ? -1 : (int) score;
                }
                get_usec(p, "ready-deadline", false, &l->ready_deadline_usec);
                get_usec(p, "watchdog-deadline", false, &l->watchdog_deadline_usec);
                if (serialize_get(r, "kill-reason")) {
                        for (int k = 0; k < _KILL_REASON_MAX; k++)
                                if (strcmp(kill_reason_to_string((KillReason) k), serialize_get(r, "kill-reason")) == 0)
                                        l->kill_reason = k;
                        if (l->kill_reason < 0)
                                parse_fail(p, "kill-reason", "unknown reason \"%s\"", serialize_get(r, "kill-reason"));
                }
                get_str(p, "status", false, &l->status);
        } else if (strcmp(r->type, "upgrade") == 0) {
                s->upgrading = true;
                get_usec(p, "started", false, &s->upgrade_started_usec);
        } else if (strcmp(r->type, "upgrade-refused") == 0) {
                s->upgrade_refused = true;
                get_str(p, "reason", true, &s->upgrade_refused_reason);
                get_buf(p, "version", s->upgrade_target.version, sizeof s->upgrade_target.version);
                get_buf(p, "build-id", s->upgrade_target.build_id, sizeof s->upgrade_target.build_id);
        } else if (strcmp(r->type, "output") == 0) {
                StateOutput *o = master_state_add_output(s);
                uint64_t pid = 0;

                if (!o) {
                        p->r = -ENOMEM;
                        return;
                }
                get_fd(p, "fd", true, &o->fd);
                get_str(p, "service", true, &o->service);
                get_unsigned(p, "slot", false, &o->slot);
                get_unsigned(p, "generation", false, &o->generation);
                get_u64(p, "pid", true, &pid);
                if (p->r >= 0 && (pid == 0 || pid > INT32_MAX))
                        parse_fail(p, "pid", "out of range");
                o->pid = (pid_t) pid;
                get_str(p, "identifier", false, &o->identifier);
                get_bool(p, "stderr", false, &o->is_stderr);
        } else if (strcmp(r->type, "fd") == 0) {
                _cleanup_free_ char *name = NULL;
                int fd = -EBADF;

                get_str(p, "name", true, &name);
                get_fd(p, "fd", true, &fd);
                if (p->r >= 0)
                        p->r = master_state_add_fd(s, name, fd);
        }
        /* Any other type is a later minor version's: skipped. */
}

const StateService *master_state_find_service(const MasterState *s, const char *name) {
        for (size_t i = 0; i < s->n_services; i++)
                if (strcmp(s->services[i].name, name) == 0)
                        return &s->services[i];
        return NULL;
}

const StateGeneration *master_state_find_generation(const MasterState *s, unsigned number) {
        for (size_t i = 0; i < s->n_generations; i++)
                if (s->generations[i].number == number)
                        return &s->generations[i];
        return NULL;
}

int master_state_find_fd(const MasterState *s, const char *name) {
        for (size_t i = 0; i < s->n_fds; i++)
                if (strcmp(s->fds[i].name, name) == 0)
                        return s->fds[i].fd;
        return -ENOENT;
}

static const StatePool *find_pool(const MasterState *s, unsigned generation, const char *service) {
        for (size_t i = 0; i < s->n_pools; i++)
                if (s->pools[i].generation == generation && strcmp(s->pools[i].service, service) == 0)
                        return &s->pools[i];
        return NULL;
}

static int check_fail(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int check_fail(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

/* The references between records, which a record on its own cannot check. */
static int master_state_check(const MasterState *s, char **ret_error) {
        _cleanup_free_ int *fds = NULL;
        size_t n_current = 0, n_fds;
        int r;

        r = master_state_fds(s, &fds, &n_fds);
        if (r < 0)
                return r;
        qsort(fds, n_fds, sizeof(int), cmp_int);
        for (size_t i = 1; i < n_fds; i++)
                if (fds[i] == fds[i - 1])
                        return check_fail(ret_error, "fd %d is named twice", fds[i]);

        for (size_t i = 0; i < s->n_generations; i++) {
                const StateGeneration *g = &s->generations[i];

                if (g->current)
                        n_current++;
                if (g->number > s->last_generation)
                        return check_fail(ret_error, "generation %u is above last-generation %u", g->number,
                                          s->last_generation);
                for (size_t j = 0; j < i; j++)
                        if (s->generations[j].number == g->number)
                                return check_fail(ret_error, "generation %u is there twice", g->number);
        }
        if (n_current != 1)
                return check_fail(ret_error, "%zu current generations, expected one", n_current);
        for (size_t i = 0; i < s->n_services; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->services[i].name, s->services[j].name) == 0)
                                return check_fail(ret_error, "service %s is there twice", s->services[i].name);
        for (size_t i = 0; i < s->n_pools; i++) {
                const StatePool *p = &s->pools[i];

                if (!master_state_find_generation(s, p->generation))
                        return check_fail(ret_error, "a pool of service %s names generation %u, which is not there",
                                          p->service, p->generation);
                if (!master_state_find_service(s, p->service))
                        return check_fail(ret_error, "a pool of generation %u names service %s, which is not there",
                                          p->generation, p->service);
                if (find_pool(s, p->generation, p->service) != p)
                        return check_fail(ret_error, "generation %u has two pools of service %s", p->generation,
                                          p->service);
        }
        for (size_t i = 0; i < s->n_slots; i++) {
                const StateSlot *l = &s->slots[i];
                const StateService *v = master_state_find_service(s, l->service);

                if (!v)
                        return check_fail(ret_error, "a slot names service %s, which is not there", l->service);
                if (l->score >= 0 && (size_t) l->score >= v->capacity)
                        return check_fail(ret_error, "slot %u of service %s: score entry %d is beyond the capacity %zu",
                                          l->index, l->service, l->score, v->capacity);
                if (l->generation == 0) {
                        if (l->index != 0)
                                return check_fail(ret_error, "the front stage of service %s has index %u", l->service,
                                                  l->index);
                        continue;
                }
                const StatePool *p = find_pool(s, l->generation, l->service);
                if (!p)
                        return check_fail(ret_error, "slot %u names generation %u of service %s, which has no pool",
                                          l->index, l->generation, l->service);
                if (l->index >= p->workers)
                        return check_fail(ret_error, "slot %u of service %s in generation %u: the pool has %u workers",
                                          l->index, l->service, l->generation, p->workers);
                for (size_t j = 0; j < i; j++)
                        if (s->slots[j].generation == l->generation && s->slots[j].index == l->index &&
                            strcmp(s->slots[j].service, l->service) == 0)
                                return check_fail(ret_error, "slot %u of service %s in generation %u is there twice",
                                                  l->index, l->service, l->generation);
        }
        return 0;
}

int master_state_parse(const char *text, size_t size, MasterState **ret, char **ret_error) {
        _cleanup_(serialize_file_freep) SerializeFile *f = NULL;
        _cleanup_(master_state_freep) MasterState *s = NULL;
        bool seen_identity = false, seen_master = false, seen_compat = false;
        int r;

        assert(ret);

        if (ret_error)
                *ret_error = NULL;
        r = serialize_parse(text, size, STATE_FORMAT_MAJOR, &f, ret_error);
        if (r < 0)
                return r;
        s = master_state_new();
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < f->n_records; i++) {
                Parse p = { .rec = &f->records[i], .error = ret_error };

                parse_one(&p, s, &seen_identity, &seen_master, &seen_compat);
                if (p.r < 0)
                        return p.r;
        }
        if (!seen_identity || !seen_master || !seen_compat)
                return check_fail(ret_error, "no \"%s\" record", !seen_identity ? "identity"
                                                                 : !seen_master ? "master"
                                                                                : "compat");
        r = master_state_check(s, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int master_state_fds(const MasterState *s, int **ret, size_t *ret_n) {
        size_t n = 0, max = 2 + s->n_listeners + s->n_systemd_sockets + 3 * s->n_services + s->n_fds + s->n_outputs;
        int *fds = calloc(max, sizeof(int));

        if (!fds)
                return -ENOMEM;
        fds[n++] = s->ready_fd;
        fds[n++] = s->ready_worker_fd;
        for (size_t i = 0; i < s->n_listeners; i++)
                fds[n++] = s->listeners[i].fd;
        for (size_t i = 0; i < s->n_systemd_sockets; i++)
                fds[n++] = s->systemd_sockets[i].fd;
        for (size_t i = 0; i < s->n_services; i++) {
                fds[n++] = s->services[i].scoreboard_fd;
                fds[n++] = s->services[i].park_fds[0];
                fds[n++] = s->services[i].park_fds[1];
        }
        for (size_t i = 0; i < s->n_fds; i++)
                fds[n++] = s->fds[i].fd;
        for (size_t i = 0; i < s->n_outputs; i++)
                fds[n++] = s->outputs[i].fd;
        /* Drop the unset ones. */
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        fds[j++] = fds[i];
        *ret = fds;
        *ret_n = j;
        return 0;
}
