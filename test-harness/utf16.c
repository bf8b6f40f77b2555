/* utf16.c: UTF-8 <-> UTF-16 conversion and the ASCII + Russian case mapping of utf16.h. */
#include "utf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned decode_utf8(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    unsigned c = *p++;
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (extra)
        c &= 0x3Fu >> extra;
    for (; extra > 0 && (*p & 0xC0) == 0x80; extra--)
        c = (c << 6) | (*p++ & 0x3F);
    *pp = p;
    return extra ? 0xFFFD : c;
}

WCHAR_T *u16_from_utf8(const char *utf8)
{
    size_t cap = strlen(utf8) + 1; /* never more units than bytes */
    WCHAR_T *out = malloc(cap * sizeof *out);
    if (!out)
        abort();
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)utf8;
    while (*p) {
        unsigned c = decode_utf8(&p);
        if (c >= 0x10000) {
            c -= 0x10000;
            out[n++] = (WCHAR_T)(0xD800 + (c >> 10));
            out[n++] = (WCHAR_T)(0xDC00 + (c & 0x3FF));
        } else {
            out[n++] = (WCHAR_T)c;
        }
    }
    out[n] = 0;
    return out;
}

size_t u16_len(const WCHAR_T *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

bool u16_eq(const WCHAR_T *a, const WCHAR_T *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

bool u16_eq_nocase(const WCHAR_T *a, const WCHAR_T *b)
{
    while (*a && u16_lower(*a) == u16_lower(*b))
        a++, b++;
    return u16_lower(*a) == u16_lower(*b);
}

WCHAR_T *u16_dup_n(const WCHAR_T *s, size_t len)
{
    WCHAR_T *out = malloc((len + 1) * sizeof *out);
    if (!out)
        abort();
    memcpy(out, s, len * sizeof *out);
    out[len] = 0;
    return out;
}

/* Cyrillic: А..Я is U+0410..U+042F, а..я is U+0430..U+044F; Ё is U+0401, ё is U+0451. */
WCHAR_T u16_upper(WCHAR_T c)
{
    if (c >= 'a' && c <= 'z')
        return (WCHAR_T)(c - 0x20);
    if (c >= 0x0430 && c <= 0x044F)
        return (WCHAR_T)(c - 0x20);
    if (c == 0x0451)
        return 0x0401;
    return c;
}

WCHAR_T u16_lower(WCHAR_T c)
{
    if (c >= 'A' && c <= 'Z')
        return (WCHAR_T)(c + 0x20);
    if (c >= 0x0410 && c <= 0x042F)
        return (WCHAR_T)(c + 0x20);
    if (c == 0x0401)
        return 0x0451;
    return c;
}

bool u16_has_case(WCHAR_T c)
{
    return u16_upper(c) != u16_lower(c);
}

WCHAR_T *u16_recase(const WCHAR_T *s, enum u16_case how)
{
    size_t len = u16_len(s);
    WCHAR_T *out = u16_dup_n(s, len);
    bool upper_next = true;
    bool first = true;
    for (size_t i = 0; i < len; i++) {
        if (!u16_has_case(out[i]))
            continue;
        if (how == CASE_MIXED && first) {
            upper_next = out[i] != u16_upper(out[i]); /* flip the first letter's case */
            first = false;
        }
        bool up = how == CASE_UPPER || (how == CASE_MIXED && upper_next);
        out[i] = up ? u16_upper(out[i]) : u16_lower(out[i]);
        upper_next = !upper_next;
    }
    return out;
}

static size_t put_utf8(unsigned c, char *dst)
{
    if (c < 0x80) {
        dst[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        dst[0] = (char)(0xC0 | (c >> 6));
        dst[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        dst[0] = (char)(0xE0 | (c >> 12));
        dst[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (c >> 18));
    dst[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

const char *u16_to_utf8(const WCHAR_T *s, size_t len, char *buf, size_t cap)
{
    size_t n = 0;
    if (!s) {
        snprintf(buf, cap, "(null)");
        return buf;
    }
    for (size_t i = 0; len == (size_t)-1 ? s[i] != 0 : i < len; i++) {
        unsigned c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && (len == (size_t)-1 || i + 1 < len) && s[i + 1] >= 0xDC00 &&
            s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00u);
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        char tmp[4];
        size_t k = put_utf8(c, tmp);
        if (n + k + 1 > cap)
            break;
        memcpy(buf + n, tmp, k);
        n += k;
    }
    buf[n] = 0;
    return buf;
}
