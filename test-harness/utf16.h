/* utf16.h: the few UTF-16 operations the harness needs, independent of the C library's locale.
 *
 * The platform speaks UTF-16 (WCHAR_T); the harness writes its test names as UTF-8 literals and
 * prints UTF-8. Case mapping covers exactly what nativeapi/README.md requires of name lookup: ASCII
 * letters and the Russian alphabet (а–я, ё), so the harness can build UPPER/lower/mIxEd spellings.
 */
#ifndef UTF16_H
#define UTF16_H

#include <stdbool.h>
#include <stddef.h>

#include "nativeapi.h"

/* A malloc'd, NUL-terminated UTF-16 copy of a UTF-8 string (the caller frees it). */
WCHAR_T *u16_from_utf8(const char *utf8);
size_t u16_len(const WCHAR_T *s);
bool u16_eq(const WCHAR_T *a, const WCHAR_T *b);
/* Whole-string equality after case folding (ASCII, а–я, ё). */
bool u16_eq_nocase(const WCHAR_T *a, const WCHAR_T *b);
/* A malloc'd copy of the first `len` units of `s`, NUL-terminated. */
WCHAR_T *u16_dup_n(const WCHAR_T *s, size_t len);

WCHAR_T u16_upper(WCHAR_T c);
WCHAR_T u16_lower(WCHAR_T c);
bool u16_has_case(WCHAR_T c);

enum u16_case { CASE_UPPER, CASE_LOWER, CASE_MIXED };
/* A malloc'd copy of `s` in the given case; CASE_MIXED alternates upper and lower letter by letter,
 * starting with whichever differs from the original's first cased letter. */
WCHAR_T *u16_recase(const WCHAR_T *s, enum u16_case how);

/* Writes `len` units of `s` (or up to the NUL when len is (size_t)-1) into buf as UTF-8 for
 * messages; lone surrogates become U+FFFD; always NUL-terminates and returns buf. */
const char *u16_to_utf8(const WCHAR_T *s, size_t len, char *buf, size_t cap);

#endif
