/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent.h"
#include "generation.h"
#include "log.h"

/* Connections answered per wake-up, so that a flood of them cannot hold
 * up the rest of the master's loop. */
#define AGENT_ACCEPT_BURST 64

typedef struct Agent {
        AgentSet *set;
        char key[300];                /* agent_key(): stable across reloads */
        int fd;
        sd_event_source *source;
} Agent;

struct AgentSet {
        sd_event *event;
        const Supervisor *supervisor;
        Agent **agents;
        size_t n_agents;
};

size_t agent_format_reply(bool stopping, bool drained, unsigned idle, unsigned pool, char *buf, size_t size) {
        unsigned pct;
        int n;

        assert(buf);
        assert(size > 0);

        if (stopping || pool == 0)
                n = snprintf(buf, size, "down\n");
        else if (drained)
                n = snprintf(buf, size, "drain\n");
        else {
                /* 0% would read as "drain" to HAProxy; and a fleet of
                 * hosts that are all busy must keep serving. */
                pct = (unsigned) ((uint64_t) MIN(idle, pool) * 100 / pool);
                n = snprintf(buf, size, "up ready %u%%\n", MAX(pct, 1U));
        }
        return n < 0 ? 0 : MIN((size_t) n, size - 1);
}

/* The canonical address; port 0 also names the service, since each such
 * entry is a socket of its own (as for listeners). */
static int agent_key(const ServiceConfig *svc, char *buf, size_t size) {
        char addr[256];
        int r;

        r = listen_format(svc->proxy.agent_listen, addr, sizeof addr);
        if (r < 0)
                return r;
        if (snprintf(buf, size, "%s%s%s", addr, listen_is_port_zero(svc->proxy.agent_listen) ? " " : "",
                     listen_is_port_zero(svc->proxy.agent_listen) ? svc->name : "") >= (int) size)
                return -ENOBUFS;
        return 0;
}

static const ServiceConfig *config_find_agent(const Config *c, const char *key) {
        char k[300];

        for (size_t i = 0; c && i < c->n_services; i++)
                if (c->services[i].proxy.agent_listen && agent_key(&c->services[i], k, sizeof k) >= 0 &&
                    strcmp(k, key) == 0)
                        return &c->services[i];
        return NULL;
}

static Service *supervisor_find_service(const Supervisor *s, const char *name) {
        for (size_t i = 0; i < s->n_services; i++)
                if (strcmp(s->services[i]->name, name) == 0)
                        return s->services[i];
        return NULL;
}

/* What the serving generation's pool of the service at key looks like. */
static size_t agent_reply(const AgentSet *a, const char *key, char *buf, size_t size) {
        const Supervisor *s = a->supervisor;
        const ServiceConfig *svc;
        const Service *service;
        unsigned idle = 0;
        Pool *p;

        if (IN_SET(s->state, SUPERVISOR_STOPPING, SUPERVISOR_STOPPED))
                return agent_format_reply(true, false, 0, 0, buf, size);
        if (!s->current || s->state == SUPERVISOR_STARTING)
                return agent_format_reply(false, false, 0, 0, buf, size);
        svc = config_find_agent(s->current->config, key);
        p = svc ? generation_find_pool(s->current, svc->name) : NULL;
        service = svc ? supervisor_find_service(s, svc->name) : NULL;
        if (!p || !service)
                /* Only a reload in progress names it yet. */
                return agent_format_reply(false, false, 0, 0, buf, size);
        for (unsigned i = 0; i < p->n_slots; i++) {
                const Slot *slot = &p->slots[i];

                if (slot->state == SLOT_RUNNING && slot->score &&
                    atomic_load_explicit(&slot->score->state, memory_order_relaxed) == WORKER_IDLE)
                        idle++;
        }
        /* The pool's size, not its slots: a pool scaled down still has
         * the slots of workers that are leaving. */
        return agent_format_reply(false, service->drained, idle, p->size, buf, size);
}

/* Answers one connection and closes it. The line fits an empty socket's
 * send buffer, so the non-blocking send takes it whole. Whatever the
 * checker sent (agent-send) is read first, so that the close is a FIN
 * rather than a reset that could discard the answer. */
static void agent_answer(Agent *ag, int fd) {
        char line[64], discard[512];
        size_t n = agent_reply(ag->set, ag->key, line, sizeof line);
        ssize_t k;

        k = send(fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 || (size_t) k != n)
                log_debug("agent check on %s: cannot answer: %s", ag->key, k < 0 ? STRERROR(errno) : "short write");
        for (unsigned i = 0; i < 8 && recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; i++)
                ;
        (void) shutdown(fd, SHUT_WR);
        safe_close(fd);
}

static int agent_on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Agent *ag = userdata;

        for (unsigned i = 0; i < AGENT_ACCEPT_BURST; i++) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (c < 0) {
                        if (!IN_SET(errno, EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED))
                                log_debug("agent check on %s: accept failed: %s", ag->key, STRERROR(errno));
                        break;
                }
                agent_answer(ag, c);
        }
        return 0;
}

static Agent *agent_free(Agent *ag) {
        if (!ag)
                return NULL;
        sd_event_source_disable_unref(ag->source);
        safe_close(ag->fd);
        free(ag);
        return NULL;
}

int agent_set_new(sd_event *event, const Supervisor *s, AgentSet **ret) {
        AgentSet *a;

        assert(event);
        assert(s);
        assert(ret);

        a = calloc(1, sizeof(AgentSet));
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(event);
        a->supervisor = s;
        *ret = a;
        return 0;
}

AgentSet *agent_set_free(AgentSet *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_agents; i++)
                agent_free(a->agents[i]);
        free(a->agents);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}

static bool agent_set_has(const AgentSet *a, const char *key) {
        for (size_t i = 0; i < a->n_agents; i++)
                if (strcmp(a->agents[i]->key, key) == 0)
                        return true;
        return false;
}

static int agent_set_add(AgentSet *a, const ServiceConfig *svc, const char *key) {
        Agent *ag, **l;
        char shown[256];
        int r;

        ag = calloc(1, sizeof(Agent));
        if (!ag)
                return -ENOMEM;
        ag->set = a;
        ag->fd = -EBADF;
        strcpy(ag->key, key);
        l = realloc(a->agents, (a->n_agents + 1) * sizeof(Agent *));
        if (!l) {
                agent_free(ag);
                return -ENOMEM;
        }
        a->agents = l;

        r = listen_open(svc->proxy.agent_listen, 64, false, &ag->fd);
        if (r < 0) {
                agent_free(ag);
                return log_error_errno(r, "%s: agent_listen: cannot listen on %s: %s", svc->name,
                                       svc->proxy.agent_listen_str, STRERROR(r));
        }
        r = sd_event_add_io(a->event, &ag->source, ag->fd, EPOLLIN, agent_on_io, ag);
        if (r < 0) {
                agent_free(ag);
                return log_error_errno(r, "%s: agent_listen: cannot watch %s: %s", svc->name, svc->proxy.agent_listen_str,
                                       STRERROR(r));
        }
        a->agents[a->n_agents++] = ag;
        if (listen_format_fd(ag->fd, shown, sizeof shown) < 0)
                strcpy(shown, svc->proxy.agent_listen_str);
        log_info("Listening on %s (service %s agent check)", shown, svc->name);
        return 0;
}

int agent_set_open(AgentSet *a, const Config *c) {
        int r;

        assert(a);
        assert(c);

        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceConfig *svc = &c->services[i];
                char key[300];

                if (!svc->proxy.agent_listen)
                        continue;
                r = agent_key(svc, key, sizeof key);
                if (r < 0)
                        return log_error_errno(r, "%s: agent_listen: cannot format the address: %s", svc->name,
                                               STRERROR(r));
                if (agent_set_has(a, key))
                        continue;
                r = agent_set_add(a, svc, key);
                if (r < 0)
                        return r;
        }
        return 0;
}

void agent_set_prune(AgentSet *a, const Config *const *keep, size_t n) {
        size_t j = 0;

        assert(a);
        for (size_t i = 0; i < a->n_agents; i++) {
                Agent *ag = a->agents[i];
                bool used = false;

                for (size_t k = 0; k < n && !used; k++)
                        used = config_find_agent(keep[k], ag->key);
                if (used) {
                        a->agents[j++] = ag;
                        continue;
                }
                log_info("Closing agent check listener %s", ag->key);
                agent_free(ag);
        }
        a->n_agents = j;
}
