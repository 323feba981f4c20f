/*
 * The workload language's lexer: text to tokens, each with its line and
 * column.
 *
 * Linux counterpart: none (the nearest relatives are the small hand-written
 * parsers of /proc/sys and the kernel command line).
 *
 * Theory of operation:
 *  1. The language is line-oriented: a newline (or ';') ends a statement
 *     and is a token of its own (WL_T_EOL); '#' starts a comment that runs
 *     to the end of the line. Blanks are spaces, tabs and carriage returns.
 *  2. Tokens are words (names and keywords: a letter or '_', then letters,
 *     digits, '_', '-' and '|', so GFP masks such as GFP_KERNEL|__GFP_ZERO
 *     are one word), numbers, "strings", and the punctuation : = , ( ) [ ]
 *     and '..'. A number is decimal, 0x-hex or has a fraction (1.5), may
 *     end in a size suffix K, M, G or T (powers of 1024) and then '%'.
 *     '0..4M' is three tokens: a fraction needs a digit after the dot.
 *  3. The options of a `machine` line are shell-like words, whatever their
 *     characters (paths, '--mem=4G'); the parser asks for them with
 *     wl_lex_raw() instead of wl_lex_next().
 *  4. Columns count bytes from 1, a tab being one column, which is what
 *     editors that show byte offsets and `cut -b` agree on.
 * A lexing error is remembered in lx->msg and returned as a WL_T_BAD token;
 * the parser reports it as the first error. No input makes the lexer read
 * outside the text: every look-ahead checks the length first.
 */
#include "workload.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wl_lex_init(struct wl_lexer *lx, const char *src, size_t len, const char *filename)
{
	memset(lx, 0, sizeof(*lx));
	lx->src = src;
	lx->len = len;
	lx->line = 1;
	lx->filename = filename;
}

void wl_lex_free(struct wl_lexer *lx)
{
	for (size_t i = 0; i < lx->nstrings; i++)
		free(lx->strings[i]);
	free(lx->strings);
	lx->strings = NULL;
	lx->nstrings = lx->strings_cap = 0;
}

static int peekc(const struct wl_lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

static bool is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_word_char(int c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '|';
}

static struct wl_loc here(const struct wl_lexer *lx)
{
	return (struct wl_loc){lx->line, (int)(lx->pos - lx->line_start) + 1};
}

/* Show one character of the source in a message. */
static const char *show_char(int c, char *buf, size_t len)
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "'\\x%02x'", c & 0xff);
	return buf;
}

__kmm_printf(3, 4) static struct wl_token
    lex_fail(struct wl_lexer *lx, struct wl_token t, const char *fmt, ...)
{
	va_list ap;
	if (!lx->failed) {
		int n = snprintf(lx->msg, sizeof(lx->msg), "%s:%d:%d: ", lx->filename, t.at.line,
				 t.at.col);
		va_start(ap, fmt);
		vsnprintf(lx->msg + n, sizeof(lx->msg) - (size_t)n, fmt, ap);
		va_end(ap);
		lx->failed = true;
	}
	t.kind = WL_T_BAD;
	return t;
}

/* Blanks and a comment; stops at a newline, ';' or the next token. */
static void skip_blanks(struct wl_lexer *lx)
{
	for (;;) {
		int c = peekc(lx, 0);
		if (is_blank(c)) {
			lx->pos++;
		} else if (c == '#') {
			while (lx->pos < lx->len && lx->src[lx->pos] != '\n')
				lx->pos++;
		} else {
			return;
		}
	}
}

/* A newline or ';' token; a newline starts the next line. */
static struct wl_token lex_eol(struct wl_lexer *lx, struct wl_token t)
{
	t.kind = WL_T_EOL;
	t.len = 1;
	if (lx->src[lx->pos] == '\n') {
		lx->pos++;
		lx->line++;
		lx->line_start = lx->pos;
	} else {
		lx->pos++;
	}
	return t;
}

static char *keep_string(struct wl_lexer *lx, char *s)
{
	if (lx->nstrings == lx->strings_cap) {
		size_t cap = lx->strings_cap ? lx->strings_cap * 2 : 8;
		char **n = realloc(lx->strings, cap * sizeof(*n));
		if (!n) {
			free(s);
			lx->oom = true;
			return NULL;
		}
		lx->strings = n;
		lx->strings_cap = cap;
	}
	lx->strings[lx->nstrings++] = s;
	return s;
}

/* A "string": \" \\ \n and \t are the escapes; it ends on its line. */
static struct wl_token lex_string(struct wl_lexer *lx, struct wl_token t)
{
	size_t start = ++lx->pos;
	size_t end = start;
	while (end < lx->len && lx->src[end] != '"' && lx->src[end] != '\n') {
		if (lx->src[end] == '\\' && end + 1 < lx->len && lx->src[end + 1] != '\n')
			end++;
		end++;
	}
	if (end >= lx->len || lx->src[end] != '"') {
		lx->pos = end;
		t.len = end - (start - 1);
		return lex_fail(lx, t,
				"expected a closing '\"' before the end of the line, found %s",
				end >= lx->len ? "end of file" : "end of line");
	}
	char *s = malloc(end - start + 1);
	if (!s) {
		lx->oom = true;
		return lex_fail(lx, t, "out of host memory");
	}
	size_t n = 0;
	for (size_t i = start; i < end; i++) {
		char c = lx->src[i];
		if (c == '\\' && i + 1 < end) {
			char e = lx->src[++i];
			if (e == 'n')
				c = '\n';
			else if (e == 't')
				c = '\t';
			else if (e == '"' || e == '\\')
				c = e;
			else {
				free(s);
				t.at.col += (int)(i - 1 - (start - 1));
				lx->pos = end + 1;
				return lex_fail(
				    lx, t,
				    "expected one of the escapes \\\" \\\\ \\n \\t, found "
				    "'\\%c'",
				    e >= 0x20 && e < 0x7f ? e : '?');
			}
		}
		s[n++] = c;
	}
	s[n] = '\0';
	lx->pos = end + 1;
	t.kind = WL_T_STRING;
	t.len = lx->pos - (start - 1);
	t.str = keep_string(lx, s);
	if (!t.str)
		return lex_fail(lx, t, "out of host memory");
	return t;
}

static struct wl_token lex_number(struct wl_lexer *lx, struct wl_token t)
{
	static const char expect[] = "expected a number such as 64, 4K, 0x1000 or 1.5, found";
	size_t p = lx->pos;
	uint64_t v = 0;
	double d = 0, frac = 0;
	bool overflow = false, has_frac = false;

	if (lx->src[p] == '0' && p + 1 < lx->len &&
	    (lx->src[p + 1] == 'x' || lx->src[p + 1] == 'X')) {
		p += 2;
		size_t digits = 0;
		for (; p < lx->len; p++, digits++) {
			char c = lx->src[p];
			unsigned int dv;
			if (is_digit(c))
				dv = (unsigned int)(c - '0');
			else if (c >= 'a' && c <= 'f')
				dv = (unsigned int)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				dv = (unsigned int)(c - 'A' + 10);
			else
				break;
			if (v > (UINT64_MAX >> 4))
				overflow = true;
			v = (v << 4) | dv;
		}
		if (!digits)
			goto bad;
		d = (double)v;
	} else {
		for (; p < lx->len && is_digit(lx->src[p]); p++) {
			unsigned int dv = (unsigned int)(lx->src[p] - '0');
			if (v > (UINT64_MAX - dv) / 10)
				overflow = true;
			v = v * 10 + dv;
		}
		d = (double)v;
		if (p + 1 < lx->len && lx->src[p] == '.' && is_digit(lx->src[p + 1])) {
			double scale = 0.1;
			has_frac = true;
			for (p++; p < lx->len && is_digit(lx->src[p]); p++) {
				frac += scale * (lx->src[p] - '0');
				scale /= 10;
			}
			d += frac;
		}
	}
	int shift = p < lx->len ? (int)kmm_size_suffix_shift(lx->src[p]) : 0;
	/* A suffix is one letter: "4Kb" or "4Mi" is not a number. */
	if (shift)
		p++;
	bool percent = p < lx->len && lx->src[p] == '%';
	if (percent)
		p++;
	if (p < lx->len && (is_word_char(lx->src[p]) || lx->src[p] == '.') &&
	    !(lx->src[p] == '.' && p + 1 < lx->len && lx->src[p + 1] == '.'))
		goto bad;
	t.kind = WL_T_NUMBER;
	t.len = p - lx->pos;
	lx->pos = p;
	if (overflow || (shift && v > (UINT64_MAX >> shift)))
		return lex_fail(lx, t, "expected a number below 2^64, found '%.*s'", (int)t.len,
				t.s);
	t.d = ldexp(d, shift);
	if (has_frac) {
		/* 1.5K is 1536 bytes: whole after scaling. */
		double whole = floor(t.d);
		t.integral = whole == t.d && t.d < 18446744073709551616.0;
		t.u = t.integral ? (uint64_t)whole : 0;
	} else {
		t.integral = true;
		t.u = v << shift;
	}
	t.percent = percent;
	return t;
bad:
	while (p < lx->len && (is_word_char(lx->src[p]) || lx->src[p] == '.' || lx->src[p] == '%'))
		p++;
	t.len = p - lx->pos;
	lx->pos = p;
	return lex_fail(lx, t, "%s '%.*s'", expect, (int)kmm_min(t.len, (size_t)40), t.s);
}

static struct wl_token lex_token(struct wl_lexer *lx)
{
	struct wl_token t;
	memset(&t, 0, sizeof(t));
	if (lx->failed) {
		t.kind = WL_T_BAD;
		t.at = here(lx);
		t.s = lx->src + kmm_min(lx->pos, lx->len);
		return t;
	}
	skip_blanks(lx);
	t.at = here(lx);
	t.s = lx->src + lx->pos;
	int c = peekc(lx, 0);
	if (c < 0) {
		t.kind = WL_T_EOF;
		return t;
	}
	if (c == '\n' || c == ';')
		return lex_eol(lx, t);
	if (c == '"')
		return lex_string(lx, t);
	if (is_digit(c))
		return lex_number(lx, t);
	if (is_alpha(c)) {
		size_t p = lx->pos;
		while (p < lx->len && is_word_char(lx->src[p]))
			p++;
		t.kind = WL_T_WORD;
		t.len = p - lx->pos;
		lx->pos = p;
		return t;
	}
	t.len = 1;
	switch (c) {
	case ':':
		t.kind = WL_T_COLON;
		break;
	case '=':
		t.kind = WL_T_EQUALS;
		break;
	case ',':
		t.kind = WL_T_COMMA;
		break;
	case '(':
		t.kind = WL_T_LPAREN;
		break;
	case ')':
		t.kind = WL_T_RPAREN;
		break;
	case '[':
		t.kind = WL_T_LBRACKET;
		break;
	case ']':
		t.kind = WL_T_RBRACKET;
		break;
	case '.':
		if (peekc(lx, 1) == '.') {
			t.kind = WL_T_DOTDOT;
			t.len = 2;
			break;
		}
		/* fall through */
	default: {
		char b[16];
		lx->pos++;
		return lex_fail(lx, t,
				"expected a name, a number, a \"string\" or one of : = , ( ) [ ] "
				"..; found %s",
				show_char(c, b, sizeof(b)));
	}
	}
	lx->pos += t.len;
	return t;
}

struct wl_token wl_lex_next(struct wl_lexer *lx)
{
	if (lx->have_peeked) {
		lx->have_peeked = false;
		return lx->peeked;
	}
	return lex_token(lx);
}

struct wl_token wl_lex_peek(struct wl_lexer *lx)
{
	if (!lx->have_peeked) {
		lx->peeked = lex_token(lx);
		lx->have_peeked = true;
	}
	return lx->peeked;
}

struct wl_token wl_lex_raw(struct wl_lexer *lx)
{
	struct wl_token t;
	if (lx->have_peeked) /* the parser never peeks before a raw word; be safe */
		return wl_lex_next(lx);
	memset(&t, 0, sizeof(t));
	if (lx->failed) {
		t.kind = WL_T_BAD;
		t.at = here(lx);
		t.s = lx->src + kmm_min(lx->pos, lx->len);
		return t;
	}
	skip_blanks(lx);
	t.at = here(lx);
	t.s = lx->src + lx->pos;
	int c = peekc(lx, 0);
	if (c < 0) {
		t.kind = WL_T_EOF;
		return t;
	}
	if (c == '\n' || c == ';')
		return lex_eol(lx, t);
	if (c == '"')
		return lex_string(lx, t);
	size_t p = lx->pos;
	while (p < lx->len && !is_blank(lx->src[p]) && lx->src[p] != '\n' && lx->src[p] != ';')
		p++;
	t.kind = WL_T_WORD;
	t.len = p - lx->pos;
	lx->pos = p;
	return t;
}

bool wl_lex_colon_follows(struct wl_lexer *lx)
{
	if (lx->have_peeked)
		return lx->peeked.kind == WL_T_COLON;
	size_t p = lx->pos;
	while (p < lx->len && is_blank(lx->src[p]))
		p++;
	return p < lx->len && lx->src[p] == ':';
}

void wl_lex_skip_statement(struct wl_lexer *lx)
{
	lx->have_peeked = false;
	while (lx->pos < lx->len && lx->src[lx->pos] != '\n' && lx->src[lx->pos] != ';')
		lx->pos++;
}

const char *wl_tok_describe(const struct wl_token *t, char *buf, size_t len)
{
	switch (t->kind) {
	case WL_T_EOF:
		snprintf(buf, len, "end of file");
		break;
	case WL_T_EOL:
		snprintf(buf, len, *t->s == ';' ? "';'" : "end of line");
		break;
	default:
		if (t->len > 40)
			snprintf(buf, len, "'%.37s...'", t->s);
		else
			snprintf(buf, len, "'%.*s'", (int)t->len, t->s);
		break;
	}
	return buf;
}
