/*
 * The admin API (127.0.0.1 only; server.c checks the peer): publish events,
 * inject faults, truncate retention, read stats, list clients. Answers JSON;
 * bad input gets HTTP 400 with {"error": "..."} naming the parameter.
 *
 *   POST /admin/publish?channel=CH&count=N[&size=BYTES][&entity=E][&change_type=T[,T...]]
 *                      [&fields=JSON][&pretty=1][&record_id=ID|&record_ids=ID,ID...|&records=N]
 *                      [&transaction=1]
 *   POST /admin/fault?kind=K[&count=N]
 *   POST /admin/retention?keep=N
 *   POST /admin/credentials?password=P
 *   GET  /admin/stats
 *   GET  /admin/clients
 *   POST /admin/reset-pollers
 */
#ifndef SFSIM_ADMIN_H
#define SFSIM_ADMIN_H

#include <stddef.h>

#define ADMIN_MAX_PUBLISH 1000000  /* events per publish request */
#define ADMIN_MAX_RECORD_IDS 200   /* recordIds of one change event: a DML batch */

struct sim;

struct admin_request {
        const char *method;
        const char *path;
        /* Looks up a decoded query parameter; NULL when absent. */
        const char *(*arg)(void *arg_ctx, const char *name);
        void *arg_ctx;
};

struct admin_response {
        int status;
        char *body;      /* malloc'd JSON; the caller frees (NULL: out of memory) */
        size_t body_len;
};

/** @brief Answer one admin request. @locality any request thread. */
void admin_handle(struct sim *sim, const struct admin_request *req, struct admin_response *resp);

#endif
