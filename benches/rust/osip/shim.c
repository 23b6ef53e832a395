/* libosip2's parser read the way the sipwire bench reads sipwire: parse a message, then the
 * fields of a transaction key (top Via branch and sent-by, Call-ID, CSeq) or the eight fields
 * of the Python suite. Each value is copied into `out` as a (pointer, length) pair that stays
 * valid until the message is freed by osip_shim_free. */
#include <string.h>
#include <osipparser2/osip_parser.h>

struct osip_shim_str { const char *ptr; size_t len; };
struct osip_shim_fields {
    struct osip_shim_str method, uri_host, call_id, cseq_number, cseq_method;
    struct osip_shim_str from_tag, to_tag, branch, via_host, content_length;
};

static struct osip_shim_str s(const char *p) {
    struct osip_shim_str r = { p, p ? strlen(p) : 0 };
    return r;
}

int osip_shim_init(void) { return parser_init(); }

/* Parses `len` bytes; returns the message (free it with osip_shim_free) or NULL. */
void *osip_shim_parse(const char *buf, size_t len) {
    osip_message_t *sip = NULL;
    if (osip_message_init(&sip) != 0) return NULL;
    if (osip_message_parse(sip, buf, len) != 0) { osip_message_free(sip); return NULL; }
    return sip;
}

void osip_shim_free(void *msg) { osip_message_free((osip_message_t *)msg); }

/* The transaction-key fields (eight = 0) or all eight fields (eight = 1); 0 when all found. */
int osip_shim_fields(void *msg, int eight, struct osip_shim_fields *out) {
    osip_message_t *sip = (osip_message_t *)msg;
    osip_via_t *via = NULL;
    osip_generic_param_t *p = NULL;
    osip_call_id_t *cid;
    osip_cseq_t *cseq;
    memset(out, 0, sizeof *out);
    if (osip_message_get_via(sip, 0, &via) < 0 || via == NULL) return -1;
    if (osip_via_param_get_byname(via, "branch", &p) == 0 && p) out->branch = s(p->gvalue);
    out->via_host = s(via_get_host(via));
    cid = osip_message_get_call_id(sip);
    if (cid == NULL) return -1;
    out->call_id = s(cid->number); /* "number@host": osip splits at '@'; the bench checks number */
    cseq = osip_message_get_cseq(sip);
    if (cseq == NULL) return -1;
    out->cseq_number = s(cseq->number);
    out->cseq_method = s(cseq->method);
    if (!eight) return 0;
    out->method = s(sip->sip_method);
    if (sip->req_uri) out->uri_host = s(sip->req_uri->host);
    p = NULL;
    if (sip->from && osip_from_param_get_byname(sip->from, "tag", &p) == 0 && p) out->from_tag = s(p->gvalue);
    p = NULL;
    if (sip->to && osip_to_param_get_byname(sip->to, "tag", &p) == 0 && p) out->to_tag = s(p->gvalue);
    if (sip->content_length) out->content_length = s(sip->content_length->value);
    return 0;
}
