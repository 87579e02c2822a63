/* text -- words of questions and identifiers: tokenizing, stemming, similarity.
 *
 * Shared by retrieval, the glossary, the offline planner and the question cache, so that
 * "Ticket sales", "ticket_sales" and "ticketSales" all become the words "ticket" "sale".
 * Stemming is Snowball's English stemmer (libstemmer; the one PostgreSQL's full-text search
 * uses): "categories" -> "categori", "customers" -> "custom". Callers pass fixed arrays; the
 * stemmer and a memo of its answers are made on first use and kept for the process, so none
 * of this is thread-safe (each FastCGI worker and tool is a single-threaded process). */
#ifndef T2_TEXT_H
#define T2_TEXT_H

#include "buf.h"

#include <stddef.h>

#define TEXT_WORD_MAX 48

typedef struct text_words {
    int n;
    char w[128][TEXT_WORD_MAX]; /* lower-case, stemmed unless raw was asked for */
} text_words;

/* Splits s into words: letters/digits runs; snake_case, kebab-case, camelCase and acronyms
 * ("UOMCode" -> "uom" "code") are split; lower-cased; stemmed when stem != 0. Words past the
 * capacity are dropped. */
void text_split(const char *s, int stem, text_words *out);
/* Snowball English stem of the lower-case word w, in place (a stem is never longer than its
 * word): "sales" -> "sale", "ordered" -> "order", "categories" -> "categori". Stems are for
 * comparing with other stems, never to be stemmed again: Snowball is not idempotent
 * ("university" -> "univers" -> "univ"). Out of memory leaves w as it was. */
void text_stem(char *w);
/* 1 if the lower-case word w is a plural whose singular is w without its final s or es
 * ("cities", "sales", "boxes"; not "status", "class", "news"). */
int text_is_plural(const char *w);
/* 1 if the stem w is a stop word's ("the", "of", "show", "what", "does" -> "doe", ...). */
int text_is_stop(const char *w);

/* A fixed list of plain words matched by stem: "averages", "averaged" and "average" all find
 * "average". words is NULL-terminated (at most TEXT_WORDSET_MAX are used); the stems are made
 * on the first lookup. Declare as  static text_wordset ws = {.words = list};  */
#define TEXT_WORDSET_MAX   128
#define TEXT_WORDSET_SLOTS 257 /* more than twice the words: short probes */
typedef struct text_wordset {
    const char *const *words;
    int n; /* stems made; 0 until the first lookup */
    char stems[TEXT_WORDSET_MAX][TEXT_WORD_MAX];
    short slot[TEXT_WORDSET_SLOTS]; /* hash of the stems: 1 + index of the first word, or 0 */
} text_wordset;
/* Index in ws->words of the first word whose stem is stem, or -1. */
int text_wordset_find(text_wordset *ws, const char *stem);
/* Stem of ws->words[i], or NULL when i is out of range. */
const char *text_wordset_stem(text_wordset *ws, int i);
/* Normalised question for cache keys: lower-case words joined by single spaces,
 * punctuation dropped. Writes at most len bytes, always NUL-terminated. */
void text_normalize(const char *s, char *dst, size_t len);
/* The form of a question its cache key is made from: ASCII letters lower-cased, runs of
 * white space made one space, trimmed, trailing ?.! dropped; every other byte kept, nothing
 * cut (so "total > 100" and "total < 100" differ). Appends to out; 0 or -1. */
int text_fold(const char *s, buf *out);
/* Jaccard similarity of the non-stop stemmed word sets of a and b, in [0, 1]. */
double text_similarity(const char *a, const char *b);
/* Levenshtein distance, capped at cap (returns cap when larger). */
int text_edit_distance(const char *a, const char *b, int cap);

#endif
