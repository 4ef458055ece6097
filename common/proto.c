/*
 * proto.c -- PostgreSQL v3 message framing, body reading and message
 * building (see proto.h for the contract).
 */
#include "proto.h"

#include <stdlib.h>
#include <string.h>

/* The protocol caps a message length at 2^30 (PostgreSQL's MaxAllocSize). */
#define PROTO_ABS_MAX_LEN 0x40000000u

enum proto_frame
proto_peek_header(const uint8_t *data, size_t avail, uint32_t max_len,
				  uint8_t *type, uint32_t *len)
{
	uint32_t	l;

	if (avail < PROTO_HDR_LEN)
		return PROTO_FRAME_SHORT;
	l = proto_get_u32(data + 1);
	if (l < 4 || l > PROTO_ABS_MAX_LEN || (max_len && l > max_len))
		return PROTO_FRAME_BAD;
	*type = data[0];
	*len = l;
	return PROTO_FRAME_OK;
}

enum proto_frame
proto_peek_startup(const uint8_t *data, size_t avail, uint32_t *len, uint32_t *code)
{
	uint32_t	l;

	if (avail < 4)
		return PROTO_FRAME_SHORT;
	l = proto_get_u32(data);
	if (l < 8 || l > PROTO_MAX_STARTUP_LEN)
		return PROTO_FRAME_BAD;
	if (avail < 8)
		return PROTO_FRAME_SHORT;
	*len = l;
	*code = proto_get_u32(data + 4);
	return PROTO_FRAME_OK;
}

/* ---- reading ---- */

void
proto_reader_init(struct proto_reader *r, const uint8_t *body, size_t len)
{
	r->pos = body;
	r->end = body + len;
	r->failed = false;
}

size_t
proto_reader_left(const struct proto_reader *r)
{
	return (size_t) (r->end - r->pos);
}

uint8_t
proto_read_byte(struct proto_reader *r)
{
	if (r->failed || r->pos + 1 > r->end)
	{
		r->failed = true;
		return 0;
	}
	return *r->pos++;
}

uint16_t
proto_read_u16(struct proto_reader *r)
{
	uint16_t	v;

	if (r->failed || r->pos + 2 > r->end)
	{
		r->failed = true;
		return 0;
	}
	v = proto_get_u16(r->pos);
	r->pos += 2;
	return v;
}

uint32_t
proto_read_u32(struct proto_reader *r)
{
	uint32_t	v;

	if (r->failed || r->pos + 4 > r->end)
	{
		r->failed = true;
		return 0;
	}
	v = proto_get_u32(r->pos);
	r->pos += 4;
	return v;
}

const char *
proto_read_string(struct proto_reader *r)
{
	const uint8_t *nul;
	const char *s;

	if (r->failed || r->pos >= r->end)
	{
		r->failed = true;
		return NULL;
	}
	nul = memchr(r->pos, 0, (size_t) (r->end - r->pos));
	if (nul == NULL)
	{
		r->failed = true;
		return NULL;
	}
	s = (const char *) r->pos;
	r->pos = nul + 1;
	return s;
}

const uint8_t *
proto_read_bytes(struct proto_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->failed || (size_t) (r->end - r->pos) < n)
	{
		r->failed = true;
		return NULL;
	}
	p = r->pos;
	r->pos += n;
	return p;
}

int
proto_startup_params(const uint8_t *body, size_t len,
					 int (*fn) (const char *name, const char *value, void *arg),
					 void *arg)
{
	struct proto_reader r;

	proto_reader_init(&r, body, len);
	for (;;)
	{
		const char *name = proto_read_string(&r);
		const char *value;

		if (name == NULL)
			return -1;
		if (name[0] == '\0')
			return proto_reader_left(&r) == 0 ? 0 : -1;
		value = proto_read_string(&r);
		if (value == NULL)
			return -1;
		if (fn(name, value, arg) != 0)
			return -1;
	}
}

const char *
proto_error_field(const uint8_t *body, size_t len, char code)
{
	struct proto_reader r;

	proto_reader_init(&r, body, len);
	for (;;)
	{
		uint8_t		f = proto_read_byte(&r);
		const char *s;

		if (r.failed || f == 0)
			return NULL;
		s = proto_read_string(&r);
		if (s == NULL)
			return NULL;
		if (f == (uint8_t) code)
			return s;
	}
}

/* ---- building ---- */

void
proto_buf_init(struct proto_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
proto_buf_free(struct proto_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
proto_buf_reset(struct proto_buf *b)
{
	b->len = 0;
	b->msg_start = 0;
	b->failed = false;
}

static bool
proto_buf_reserve(struct proto_buf *b, size_t n)
{
	size_t		want;
	uint8_t    *p;

	if (b->failed)
		return false;
	if (b->len + n <= b->cap)
		return true;
	want = b->cap ? b->cap : 256;
	while (want < b->len + n)
		want *= 2;
	p = realloc(b->data, want);
	if (p == NULL)
	{
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = want;
	return true;
}

void
proto_put_bytes(struct proto_buf *b, const void *p, size_t n)
{
	if (n == 0 || !proto_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
proto_put_byte(struct proto_buf *b, uint8_t v)
{
	proto_put_bytes(b, &v, 1);
}

void
proto_put_int16(struct proto_buf *b, uint16_t v)
{
	uint8_t		t[2] = {(uint8_t) (v >> 8), (uint8_t) v};

	proto_put_bytes(b, t, 2);
}

void
proto_put_int32(struct proto_buf *b, uint32_t v)
{
	uint8_t		t[4];

	proto_put_u32(t, v);
	proto_put_bytes(b, t, 4);
}

void
proto_put_string(struct proto_buf *b, const char *s)
{
	proto_put_bytes(b, s, strlen(s) + 1);
}

void
proto_begin(struct proto_buf *b, uint8_t type)
{
	proto_put_byte(b, type);
	b->msg_start = b->len;
	proto_put_int32(b, 0);
}

void
proto_begin_startup(struct proto_buf *b)
{
	b->msg_start = b->len;
	proto_put_int32(b, 0);
}

void
proto_end(struct proto_buf *b)
{
	if (b->failed)
		return;
	proto_put_u32(b->data + b->msg_start, (uint32_t) (b->len - b->msg_start));
}

void
proto_build_startup(struct proto_buf *b, const char *const *pairs, int npairs)
{
	proto_begin_startup(b);
	proto_put_int32(b, PROTO_VERSION_3);
	for (int i = 0; i < npairs; i++)
	{
		proto_put_string(b, pairs[2 * i]);
		proto_put_string(b, pairs[2 * i + 1]);
	}
	proto_put_byte(b, 0);
	proto_end(b);
}

void
proto_build_cancel_request(struct proto_buf *b, uint32_t pid, uint32_t key)
{
	proto_begin_startup(b);
	proto_put_int32(b, PROTO_CANCEL_CODE);
	proto_put_int32(b, pid);
	proto_put_int32(b, key);
	proto_end(b);
}

void
proto_build_ssl_request(struct proto_buf *b)
{
	proto_begin_startup(b);
	proto_put_int32(b, PROTO_SSL_CODE);
	proto_end(b);
}

void
proto_build_auth(struct proto_buf *b, uint32_t code, const void *data, size_t len)
{
	proto_begin(b, PQMSG_AuthenticationRequest);
	proto_put_int32(b, code);
	proto_put_bytes(b, data, len);
	proto_end(b);
}

void
proto_build_password(struct proto_buf *b, const char *password)
{
	proto_begin(b, PQMSG_PasswordMessage);
	proto_put_string(b, password);
	proto_end(b);
}

void
proto_build_parameter_status(struct proto_buf *b, const char *name, const char *value)
{
	proto_begin(b, PQMSG_ParameterStatus);
	proto_put_string(b, name);
	proto_put_string(b, value);
	proto_end(b);
}

void
proto_build_backend_key(struct proto_buf *b, uint32_t pid, uint32_t key)
{
	proto_begin(b, PQMSG_BackendKeyData);
	proto_put_int32(b, pid);
	proto_put_int32(b, key);
	proto_end(b);
}

void
proto_build_ready(struct proto_buf *b, char status)
{
	proto_begin(b, PQMSG_ReadyForQuery);
	proto_put_byte(b, (uint8_t) status);
	proto_end(b);
}

void
proto_build_query(struct proto_buf *b, const char *sql)
{
	proto_begin(b, PQMSG_Query);
	proto_put_string(b, sql);
	proto_end(b);
}

/* Close of a statement ('S') or portal ('P'); "" is the unnamed one. */
void
proto_build_close(struct proto_buf *b, char kind, const char *name)
{
	proto_begin(b, PQMSG_Close);
	proto_put_byte(b, (uint8_t) kind);
	proto_put_string(b, name);
	proto_end(b);
}

void
proto_build_terminate(struct proto_buf *b)
{
	proto_begin(b, PQMSG_Terminate);
	proto_end(b);
}

void
proto_build_command_complete(struct proto_buf *b, const char *tag)
{
	proto_begin(b, PQMSG_CommandComplete);
	proto_put_string(b, tag);
	proto_end(b);
}

void
proto_build_empty_query(struct proto_buf *b)
{
	proto_begin(b, PQMSG_EmptyQueryResponse);
	proto_end(b);
}

void
proto_build_error(struct proto_buf *b, uint8_t type, const char *severity,
				  const char *sqlstate, const char *message,
				  const char *detail, const char *hint)
{
	proto_begin(b, type);
	proto_put_byte(b, PROTO_FIELD_SEVERITY);
	proto_put_string(b, severity);
	proto_put_byte(b, PROTO_FIELD_SEVERITY_NL);
	proto_put_string(b, severity);
	proto_put_byte(b, PROTO_FIELD_SQLSTATE);
	proto_put_string(b, sqlstate);
	proto_put_byte(b, PROTO_FIELD_MESSAGE);
	proto_put_string(b, message);
	if (detail)
	{
		proto_put_byte(b, PROTO_FIELD_DETAIL);
		proto_put_string(b, detail);
	}
	if (hint)
	{
		proto_put_byte(b, PROTO_FIELD_HINT);
		proto_put_string(b, hint);
	}
	proto_put_byte(b, 0);
	proto_end(b);
}

void
proto_build_row_description(struct proto_buf *b, int ncols,
							const char *const *names, const uint32_t *types)
{
	proto_begin(b, PQMSG_RowDescription);
	proto_put_int16(b, (uint16_t) ncols);
	for (int i = 0; i < ncols; i++)
	{
		uint32_t	oid = types ? types[i] : 25;

		proto_put_string(b, names[i]);
		proto_put_int32(b, 0);	/* table oid */
		proto_put_int16(b, 0);	/* column number */
		proto_put_int32(b, oid);
		/* type size: int8 8, int4 4, text -1 */
		proto_put_int16(b, oid == 20 ? 8 : oid == 23 ? 4 : 0xffff);
		proto_put_int32(b, 0xffffffffu);	/* typmod -1 */
		proto_put_int16(b, 0);	/* text format */
	}
	proto_end(b);
}

void
proto_build_data_row(struct proto_buf *b, int ncols, const char *const *values)
{
	proto_begin(b, PQMSG_DataRow);
	proto_put_int16(b, (uint16_t) ncols);
	for (int i = 0; i < ncols; i++)
	{
		if (values[i] == NULL)
			proto_put_int32(b, 0xffffffffu);
		else
		{
			size_t		n = strlen(values[i]);

			proto_put_int32(b, (uint32_t) n);
			proto_put_bytes(b, values[i], n);
		}
	}
	proto_end(b);
}
