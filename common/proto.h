/*
 * proto.h -- the PostgreSQL v3 wire protocol in one place: message codes,
 * framing (finding message boundaries from headers), reading message bodies
 * and building messages into a reusable buffer.
 *
 * Nothing here does I/O or allocates per message: a proto_buf grows to the
 * largest message it has held and is then reused (proto_buf_reset).  Readers
 * never read past the bytes they were given; every failure is reported through
 * a flag or a return value the caller must check.
 */
#ifndef PGPLUMB_PROTO_H
#define PGPLUMB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Codes carried in the version field of untyped startup-phase packets. */
#define PROTO_VERSION_3       0x00030000u
#define PROTO_CANCEL_CODE     80877102u
#define PROTO_SSL_CODE        80877103u
#define PROTO_GSSENC_CODE     80877104u
#define PROTO_MAJOR(v)        ((v) >> 16)
#define PROTO_MINOR(v)        ((v) & 0xffff)

/* A typed message header: one type byte and a 4-byte length that counts itself. */
#define PROTO_HDR_LEN         5
/* Largest startup packet accepted (PostgreSQL uses 10000). */
#define PROTO_MAX_STARTUP_LEN 10000u

/* Frontend (client to server) message types. */
#define PQMSG_Bind                 'B'
#define PQMSG_Close                'C'
#define PQMSG_CopyData             'd'
#define PQMSG_CopyDone             'c'
#define PQMSG_CopyFail             'f'
#define PQMSG_Describe             'D'
#define PQMSG_Execute              'E'
#define PQMSG_Flush                'H'
#define PQMSG_FunctionCall         'F'
#define PQMSG_Parse                'P'
#define PQMSG_PasswordMessage      'p'
#define PQMSG_Query                'Q'
#define PQMSG_Sync                 'S'
#define PQMSG_Terminate            'X'

/* Backend (server to client) message types. */
#define PQMSG_AuthenticationRequest 'R'
#define PQMSG_BackendKeyData       'K'
#define PQMSG_BindComplete         '2'
#define PQMSG_CloseComplete        '3'
#define PQMSG_CommandComplete      'C'
#define PQMSG_CopyBothResponse     'W'
#define PQMSG_CopyInResponse       'G'
#define PQMSG_CopyOutResponse      'H'
#define PQMSG_DataRow              'D'
#define PQMSG_EmptyQueryResponse   'I'
#define PQMSG_ErrorResponse        'E'
#define PQMSG_FunctionCallResponse 'V'
#define PQMSG_NegotiateProtocolVersion 'v'
#define PQMSG_NoData               'n'
#define PQMSG_NoticeResponse       'N'
#define PQMSG_NotificationResponse 'A'
#define PQMSG_ParameterDescription 't'
#define PQMSG_ParameterStatus      'S'
#define PQMSG_ParseComplete        '1'
#define PQMSG_PortalSuspended      's'
#define PQMSG_ReadyForQuery        'Z'
#define PQMSG_RowDescription       'T'

/* Authentication request codes (first int32 of an 'R' message). */
#define PROTO_AUTH_OK              0
#define PROTO_AUTH_CLEARTEXT       3
#define PROTO_AUTH_MD5             5
#define PROTO_AUTH_SASL            10
#define PROTO_AUTH_SASL_CONTINUE   11
#define PROTO_AUTH_SASL_FINAL      12

/* ErrorResponse / NoticeResponse field codes. */
#define PROTO_FIELD_SEVERITY       'S'
#define PROTO_FIELD_SEVERITY_NL    'V'
#define PROTO_FIELD_SQLSTATE       'C'
#define PROTO_FIELD_MESSAGE        'M'
#define PROTO_FIELD_DETAIL         'D'
#define PROTO_FIELD_HINT           'H'
#define PROTO_FIELD_ROUTINE        'R'

/* Result of looking for a message boundary. */
enum proto_frame
{
	PROTO_FRAME_BAD = -1,		/* length field impossible or over the limit */
	PROTO_FRAME_SHORT = 0,		/* not enough bytes for a header yet */
	PROTO_FRAME_OK = 1			/* *type and *len are set */
};

/*
 * Typed message header at data[0..avail).  *len is the wire length (counting
 * the 4 length bytes, not the type byte); the whole message is 1 + *len bytes.
 * max_len bounds *len (0 = no bound beyond the protocol's 2^30).
 */
enum proto_frame proto_peek_header(const uint8_t *data, size_t avail, uint32_t max_len,
								   uint8_t *type, uint32_t *len);

/*
 * Untyped startup-phase packet (StartupMessage, SSLRequest, CancelRequest):
 * *len counts the whole packet, *code is the version or request code.
 */
enum proto_frame proto_peek_startup(const uint8_t *data, size_t avail,
									uint32_t *len, uint32_t *code);

/* Big-endian helpers. */
static inline uint32_t
proto_get_u32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static inline uint16_t
proto_get_u16(const uint8_t *p)
{
	return (uint16_t) (((uint16_t) p[0] << 8) | p[1]);
}

static inline void
proto_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

/*
 * Reading a message body.  Every getter returns a zero value and sets
 * r->failed when the body is too short or a string is not terminated.
 */
struct proto_reader
{
	const uint8_t *pos;
	const uint8_t *end;
	bool		failed;
};

void		proto_reader_init(struct proto_reader *r, const uint8_t *body, size_t len);
uint8_t		proto_read_byte(struct proto_reader *r);
uint16_t	proto_read_u16(struct proto_reader *r);
uint32_t	proto_read_u32(struct proto_reader *r);

/* NUL-terminated string inside the body; NULL on failure. */
const char *proto_read_string(struct proto_reader *r);

/* n raw bytes; NULL on failure. */
const uint8_t *proto_read_bytes(struct proto_reader *r, size_t n);
size_t		proto_reader_left(const struct proto_reader *r);

/*
 * Calls fn(name, value, arg) for each pair of a StartupMessage body (the bytes
 * after the version code).  Returns 0, or -1 if the list is malformed or fn
 * returned non-zero.
 */
int			proto_startup_params(const uint8_t *body, size_t len,
								 int (*fn) (const char *name, const char *value, void *arg),
								 void *arg);

/*
 * Field `code` of an ErrorResponse/NoticeResponse body, or NULL.  The
 * returned string points into body.
 */
const char *proto_error_field(const uint8_t *body, size_t len, char code);

/*
 * A growable output buffer holding zero or more complete messages.  Building
 * never fails midway: on allocation failure `failed` is set, further puts are
 * ignored, and the caller checks proto_buf_ok() once at the end.
 */
struct proto_buf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	size_t		msg_start;		/* offset of the message being built */
	bool		failed;
};

void		proto_buf_init(struct proto_buf *b);
void		proto_buf_free(struct proto_buf *b);
void		proto_buf_reset(struct proto_buf *b);
static inline bool
proto_buf_ok(const struct proto_buf *b)
{
	return !b->failed;
}

/* Start a typed message; proto_end() fills in its length. */
void		proto_begin(struct proto_buf *b, uint8_t type);

/* Start an untyped startup-phase packet. */
void		proto_begin_startup(struct proto_buf *b);
void		proto_end(struct proto_buf *b);

void		proto_put_byte(struct proto_buf *b, uint8_t v);
void		proto_put_int16(struct proto_buf *b, uint16_t v);
void		proto_put_int32(struct proto_buf *b, uint32_t v);
void		proto_put_bytes(struct proto_buf *b, const void *p, size_t n);

/* Appends s and its terminating NUL. */
void		proto_put_string(struct proto_buf *b, const char *s);

/* Whole messages. */
void		proto_build_startup(struct proto_buf *b, const char *const *pairs, int npairs);
void		proto_build_cancel_request(struct proto_buf *b, uint32_t pid, uint32_t key);
void		proto_build_ssl_request(struct proto_buf *b);
void		proto_build_auth(struct proto_buf *b, uint32_t code, const void *data, size_t len);
void		proto_build_password(struct proto_buf *b, const char *password);
void		proto_build_parameter_status(struct proto_buf *b, const char *name, const char *value);
void		proto_build_backend_key(struct proto_buf *b, uint32_t pid, uint32_t key);
void		proto_build_ready(struct proto_buf *b, char status);
void		proto_build_query(struct proto_buf *b, const char *sql);
void		proto_build_close(struct proto_buf *b, char kind, const char *name);
void		proto_build_terminate(struct proto_buf *b);
void		proto_build_command_complete(struct proto_buf *b, const char *tag);
void		proto_build_empty_query(struct proto_buf *b);

/*
 * ErrorResponse (type 'E') or NoticeResponse (type 'N').  severity is e.g.
 * "ERROR"/"FATAL"/"NOTICE"; detail and hint may be NULL.
 */
void		proto_build_error(struct proto_buf *b, uint8_t type, const char *severity,
							  const char *sqlstate, const char *message,
							  const char *detail, const char *hint);

/* RowDescription of text columns; types may be NULL (all text, oid 25). */
void		proto_build_row_description(struct proto_buf *b, int ncols,
										const char *const *names, const uint32_t *types);

/* DataRow of text values; a NULL entry is SQL NULL. */
void		proto_build_data_row(struct proto_buf *b, int ncols, const char *const *values);

#endif							/* PGPLUMB_PROTO_H */
