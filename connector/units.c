/*
 * Units of work and the names derived from them (HA.md §1). Pure: the
 * only facts from outside are the host name and pid of units_client_id().
 */
#include "units.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

uint32_t units_fnv1a32(const char *s)
{
        uint32_t h = 0x811c9dc5u;

        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x01000193u;
        }
        return h;
}

int units_partition(const struct config *cfg, size_t unit, int nparts)
{
        const struct config_unit *u;

        if (nparts < 1 || unit >= cfg->nunits)
                return -1;
        u = &cfg->units[unit];
        if (u->partition >= 0)
                return u->partition < nparts ? u->partition : -1;
        return (int)(units_fnv1a32(u->id) % (uint32_t)nparts);
}

int units_topic_partitions(const struct config *cfg)
{
        int n = cfg->nunits > 0 ? (int)cfg->nunits : 1;
        size_t i;

        /* An override names a partition that must exist. */
        for (i = 0; i < cfg->nunits; i++)
                if (cfg->units[i].partition >= n)
                        n = cfg->units[i].partition + 1;
        return n;
}

int units_is_default(const struct config *cfg)
{
        return !cfg->unit || (!cfg->org_id && strcmp(cfg->unit, "default") == 0);
}

/* Outside group mode there is one unit and it keeps a single instance's names. */
static int units_plain(const struct config *cfg)
{
        return !cfg->coord.enabled || units_is_default(cfg);
}

static const char *units_name(const struct config *cfg)
{
        return cfg->name ? cfg->name : "sfbridge";
}

void units_txn_id(const struct config *cfg, char *out, size_t out_size)
{
        if (units_plain(cfg))
                snprintf(out, out_size, "sfbridge-%s", units_name(cfg));
        else
                snprintf(out, out_size, "sfbridge-%s-%s", units_name(cfg), cfg->unit);
}

void units_replay_prefix(const struct config *cfg, char *out, size_t out_size)
{
        if (!cfg->org_id)
                snprintf(out, out_size, "%s", units_name(cfg));
        else
                snprintf(out, out_size, "%s:%s", units_name(cfg), cfg->org_id);
}

void units_owner_key(const struct config *cfg, char *out, size_t out_size)
{
        if (units_plain(cfg))
                snprintf(out, out_size, "%s:owner", units_name(cfg));
        else
                snprintf(out, out_size, "%s:%s:owner", units_name(cfg), cfg->unit);
}

void units_client_id(const struct config *cfg, char *out, size_t out_size)
{
        char host[256];

        if (!cfg->coord.enabled) {
                snprintf(out, out_size, "sfbridge-%s", units_name(cfg));
                return;
        }
        if (gethostname(host, sizeof(host)) == -1)
                snprintf(host, sizeof(host), "unknown");
        host[sizeof(host) - 1] = '\0';
        snprintf(out, out_size, "sfbridge-%s-%s-%ld", units_name(cfg), host, (long)getpid());
}
