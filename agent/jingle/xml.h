/* jingle/xml.h -- Jingle stanzas: parse one incoming <jingle/> IQ into a
 * bounded struct, and build every outgoing action.
 *
 * Parsing is strict and bounded: every string has a maximum length, every
 * list a maximum count, numbers are range-checked; anything else is a
 * bad-request with a short explanation, never a crash. The parser knows
 * the shape of the elements, not the session state (agent/jingle.c).
 */
#ifndef XS_JINGLE_XML_H
#define XS_JINGLE_XML_H

#include <stdint.h>

#include <strophe.h>

#include "agent/jingle/jingle.h"

#define JX_SID_MAX   128
#define JX_JID_MAX   1024
#define JX_CID_MAX   64
#define JX_HOST_MAX  256
#define JX_TEXT_MAX  256
#define JX_MAX_CANDS 16

enum jingle_action {
	JA_NONE = 0,
	JA_SESSION_INITIATE,
	JA_SESSION_ACCEPT,
	JA_SESSION_TERMINATE,
	JA_SESSION_INFO,
	JA_TRANSPORT_INFO,
	JA_TRANSPORT_REPLACE,
	JA_TRANSPORT_ACCEPT,
	JA_TRANSPORT_REJECT,
	JA_CONTENT_ADD,
	JA_CONTENT_ACCEPT,
	JA_CONTENT_MODIFY,
	JA_CONTENT_REJECT,
	JA_CONTENT_REMOVE,
	JA_DESCRIPTION_INFO,
	JA_SECURITY_INFO,
};

enum jingle_ttype { JT_NONE = 0, JT_S5B, JT_IBB, JT_OTHER };

enum jingle_ctype { JC_DIRECT = 1, JC_PROXY, JC_ASSISTED, JC_TUNNEL };

struct jingle_cand {
	char cid[JX_CID_MAX + 1];
	char host[JX_HOST_MAX + 1];
	char jid[JX_JID_MAX + 1];
	uint16_t port;
	uint32_t priority;
	enum jingle_ctype type;
};

/* The transport element of a content, either flavour. */
struct jingle_transport {
	enum jingle_ttype type;
	char sid[JX_SID_MAX + 1];
	/* s5b */
	char dstaddr[JX_CID_MAX + 1];
	struct jingle_cand cands[JX_MAX_CANDS];
	unsigned ncands;
	int has_used;  char used_cid[JX_CID_MAX + 1];
	int has_activated;  char activated_cid[JX_CID_MAX + 1];
	int cand_error, proxy_error;
	/* ibb */
	unsigned block_size;
};

struct jingle_msg {
	enum jingle_action action;
	char sid[JX_SID_MAX + 1];
	char initiator[JX_JID_MAX + 1];
	char responder[JX_JID_MAX + 1];
	int has_content;
	char content_name[JX_CID_MAX + 1];
	int creator_initiator;  /* creator='initiator' (the default) */
	int senders;            /* 0 none, 1 initiator, 2 responder, 3 both */
	xmpp_stanza_t *content; /* borrowed from the IQ */
	int has_file;
	struct jingle_file file;       /* name points into name_buf */
	char name_buf[JINGLE_NAME_MAX + 1];
	int has_range;
	uint64_t range_offset;
	struct jingle_transport tr;
	enum jingle_reason reason;
	char reason_text[JX_TEXT_MAX + 1];
	int info_received;      /* session-info with <received/> */
};

/* Returns the action for its attribute value, or JA_NONE. */
enum jingle_action jingle_xml_action_parse(const char *s);

/* Returns the attribute value of an action. */
const char *jingle_xml_action_name(enum jingle_action a);

/* Parses the <jingle/> child of an IQ set into *m. On failure writes a
 * short reason to err (for the bad-request text) and returns -EINVAL, or
 * -ENOTSUP for an unknown action (feature-not-implemented). */
int jingle_xml_parse(xmpp_stanza_t *iq, struct jingle_msg *m, char *err,
    size_t errlen);

/* Makes <iq type='set' to=peer id=fresh><jingle action sid .../></iq>.
 * initiator/responder may be NULL. Sets *jingle to the borrowed child.
 * Returns the IQ (release with xmpp_stanza_release()) or NULL. */
xmpp_stanza_t *jingle_xml_iq(xmpp_ctx_t *ctx, const char *to,
    enum jingle_action a, const char *sid, const char *initiator,
    const char *responder, xmpp_stanza_t **jingle);

/* Adds <content creator='initiator' name senders='initiator'/> to
 * jingle. Returns the borrowed content element or NULL. */
xmpp_stanza_t *jingle_xml_add_content(xmpp_stanza_t *jingle, const char *name);

/* Adds the XEP-0234 <description><file/></description> to content; with
 * range != NULL a <range offset=*range/> is included. Returns 0 or -ENOMEM. */
int jingle_xml_add_file(xmpp_stanza_t *content, const struct jingle_file *f,
    const uint64_t *range);

/* Adds a transport element described by t (s5b: sid, dstaddr,
 * candidates and at most one of used/error/activated/proxy-error; ibb:
 * sid, block-size) to content. Returns 0 or -ENOMEM. */
int jingle_xml_add_transport(xmpp_stanza_t *content,
    const struct jingle_transport *t);

/* Adds <reason><cond/><text/></reason>; text may be NULL. Returns 0 or
 * -ENOMEM. */
int jingle_xml_add_reason(xmpp_stanza_t *jingle, enum jingle_reason r,
    const char *text);

/* Builds an error reply to iq: type ("cancel", "modify", ...), the
 * stanza condition (e.g. "item-not-found"), an optional Jingle condition
 * ("unknown-session", "out-of-order", ...) and optional text. Returns the
 * reply (release it) or NULL. */
xmpp_stanza_t *jingle_xml_error(xmpp_stanza_t *iq, const char *type,
    const char *cond, const char *jcond, const char *text);

/* Makes a child element <name xmlns=ns/> of parent (ns may be NULL).
 * Returns it (borrowed) or NULL. */
xmpp_stanza_t *jingle_xml_child(xmpp_stanza_t *parent, const char *name,
    const char *ns);

/* Adds a text child to el. Returns 0 or -ENOMEM. */
int jingle_xml_text(xmpp_stanza_t *el, const char *text);

/* Parses a decimal uint64 with no sign, spaces or overflow. Returns 0 or
 * -EINVAL. */
int jingle_xml_u64(const char *s, uint64_t max, uint64_t *out);

#endif
