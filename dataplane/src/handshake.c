/* memif handshake decisions for both roles; see handshake.h. Pure: no syscalls. */
#include "handshake.h"

#include <stdio.h>
#include <string.h>

/* ---- server (master) ------------------------------------------------------------------ */

void hs_hello(ctrl_msg_t *out, const char *app_name) {
    memset(out, 0, sizeof(*out));
    out->type = MSG_HELLO;
    snprintf(out->u.hello.name, sizeof(out->u.hello.name), "%s", app_name);
    out->u.hello.min_version = out->u.hello.max_version = MEMIF_VERSION;
    out->u.hello.max_region = MAX_REGIONS - 1;
    out->u.hello.max_m2s_ring = out->u.hello.max_s2m_ring = HS_MAX_QUEUES - 1;
    out->u.hello.max_log2_ring_size = MEMIF_MAX_LOG2_RING;
}

const char *hs_check_init(const ctrl_msg_t *m, const hs_itf_view_t *v) {
    if (m->type != MSG_INIT) return "expected INIT";
    if (m->u.init.version != MEMIF_VERSION) return "incompatible version";
    if (!v->found || !v->is_server) return "unmatched interface id";
    if (!v->enabled) return "interface admin down";
    if (v->connected) return "already connected";
    if (v->secret[0]) {
        if (!m->u.init.secret[0]) return "secret required";
        if (strncmp(v->secret, m->u.init.secret, MEMIF_SECRET_LEN) != 0) return "incorrect secret";
    }
    if (m->u.init.mode == MODE_PUNT_INJECT) return "unsupported interface mode";
    if (m->u.init.mode != v->mode) return "mode mismatch";
    return NULL;
}

static hs_server_step_t fail(const char **why, const char *reason) {
    *why = reason;
    return HS_FAIL;
}

hs_server_step_t hs_server_msg(hs_server_t *s, const ctrl_msg_t *m, int has_fd, const char **why) {
    *why = NULL;
    if (m->type == MSG_ADD_REGION) {
        if (!has_fd) return fail(why, "missing region fd");
        if (m->u.add_region.index != s->n_regions || s->n_regions >= MAX_REGIONS)
            return fail(why, "unexpected region index");
        if (m->u.add_region.size == 0) return fail(why, "empty region");
        /* Offsets are 32 bits: more is never addressed, only mapped. */
        if (m->u.add_region.size > HS_MAX_REGION) return fail(why, "region too large");
        s->region_size[s->n_regions++] = m->u.add_region.size;
        return HS_MAP_REGION;
    }
    if (m->type == MSG_ADD_RING) {
        if (!has_fd) return fail(why, "missing interrupt fd");
        const typeof(m->u.add_ring) *r = &m->u.add_ring;
        uint16_t *got = (r->flags & ADD_RING_FLAG_S2M) ? &s->got_s2m : &s->got_m2s;
        if (r->index != *got || *got >= HS_MAX_QUEUES) return fail(why, "unexpected ring index");
        if (r->region >= s->n_regions) return fail(why, "ring in unknown region");
        if (r->private_hdr_size != 0) return fail(why, "private header not supported");
        if (r->log2_ring_size < 1 || r->log2_ring_size > MEMIF_MAX_LOG2_RING)
            return fail(why, "invalid ring size");
        if (s->log2 && r->log2_ring_size != s->log2) return fail(why, "ring sizes differ");
        if ((uint64_t)r->offset + ring_bytes(r->log2_ring_size) > s->region_size[r->region])
            return fail(why, "ring outside its region");
        s->log2 = r->log2_ring_size;
        (*got)++;
        return HS_ADD_RING;
    }
    if (m->type == MSG_CONNECT) {
        if (!s->got_s2m || !s->got_m2s) return fail(why, "no rings");
        return HS_CONNECT;
    }
    return fail(why, "unexpected message");
}

/* ---- client (slave) ------------------------------------------------------------------- */

static void append(hs_client_t *c, const ctrl_msg_t *m, int fd_of) {
    c->out[c->n_out] = *m;
    c->fd_of[c->n_out++] = fd_of;
}

uint64_t hs_ring_offset(const hs_client_t *c, unsigned g) { return g * c->ring_bytes; }

uint64_t hs_slot_base(const hs_client_t *c, unsigned g, uint32_t buffer_size) {
    return c->buf_off + (uint64_t)g * ((uint64_t)1 << c->log2) * buffer_size;
}

const char *hs_client_hello(hs_client_t *c, const hs_client_cfg_t *cfg, const ctrl_msg_t *hello) {
    memset(c, 0, sizeof(*c));
    if (hello->type != MSG_HELLO) return "expected HELLO";
    if (hello->u.hello.min_version > MEMIF_VERSION || hello->u.hello.max_version < MEMIF_VERSION)
        return "incompatible version";
    /* The client picks the counts, capped by what the server offers. */
    uint32_t ns = cfg->tx_queues, nm = cfg->rx_queues;
    if ((uint32_t)hello->u.hello.max_s2m_ring + 1 < ns) ns = hello->u.hello.max_s2m_ring + 1u;
    if ((uint32_t)hello->u.hello.max_m2s_ring + 1 < nm) nm = hello->u.hello.max_m2s_ring + 1u;
    if (ns > HS_MAX_QUEUES) ns = HS_MAX_QUEUES;
    if (nm > HS_MAX_QUEUES) nm = HS_MAX_QUEUES;
    uint8_t log2 = cfg->log2;
    if (hello->u.hello.max_log2_ring_size < log2) log2 = hello->u.hello.max_log2_ring_size;
    if (log2 > MEMIF_MAX_LOG2_RING) log2 = MEMIF_MAX_LOG2_RING;
    if (ns == 0 || nm == 0 || log2 == 0) return "peer offers no rings";
    c->log2 = log2;
    c->n_s2m = (uint16_t)ns;
    c->n_m2s = (uint16_t)nm;
    c->ring_bytes = ring_bytes(log2);
    c->buf_off = (ns + nm) * c->ring_bytes;
    c->region_size = c->buf_off + (ns + nm) * ((uint64_t)1 << log2) * cfg->buffer_size;
    if (c->region_size > 0xffffffffull) return "region too large";

    ctrl_msg_t m = {.type = MSG_INIT};
    m.u.init.version = MEMIF_VERSION;
    m.u.init.id = cfg->id;
    m.u.init.mode = (uint8_t)cfg->mode;
    snprintf(m.u.init.secret, sizeof(m.u.init.secret), "%s", cfg->secret);
    snprintf(m.u.init.name, sizeof(m.u.init.name), "%s", cfg->app_name);
    append(c, &m, -1);

    memset(&m, 0, sizeof(m));
    m.type = MSG_ADD_REGION;
    m.u.add_region.index = 0;
    m.u.add_region.size = c->region_size;
    append(c, &m, HS_FD_REGION);

    for (uint32_t g = 0; g < ns + nm; g++) {
        int s2m = g < ns;
        memset(&m, 0, sizeof(m));
        m.type = MSG_ADD_RING;
        m.u.add_ring.flags = s2m ? ADD_RING_FLAG_S2M : 0;
        m.u.add_ring.index = (uint16_t)(s2m ? g : g - ns);
        m.u.add_ring.region = 0;
        m.u.add_ring.offset = (uint32_t)hs_ring_offset(c, g);
        m.u.add_ring.log2_ring_size = log2;
        append(c, &m, (int)g);
    }

    memset(&m, 0, sizeof(m));
    m.type = MSG_CONNECT;
    snprintf(m.u.connect.if_name, sizeof(m.u.connect.if_name), "%s", cfg->if_name);
    append(c, &m, -1);
    return NULL;
}

hs_client_step_t hs_client_msg(hs_client_t *c, const ctrl_msg_t *m, int *next, const char **why) {
    *why = NULL;
    /* HELLO starts the plan, each ACK releases the next message, CONNECTED
     * answers the last one: anything else, or out of turn, ends it. */
    int ok = (m->type == MSG_HELLO && c->n_out && c->next_out == 0) ||
             (m->type == MSG_ACK && c->next_out > 0 && c->next_out < c->n_out);
    if (ok) {
        *next = c->next_out++;
        return HS_C_SEND;
    }
    if (m->type == MSG_CONNECTED && c->n_out && c->next_out == c->n_out) return HS_C_UP;
    *why = "unexpected message";
    return HS_C_FAIL;
}
