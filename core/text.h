/* text -- words of questions and identifiers: tokenizing, stemming, similarity.
 *
 * Shared by retrieval, the glossary, the offline planner and the question cache, so that
 * "Ticket sales", "ticket_sales" and "ticketSales" all become the words "ticket" "sale".
 * No allocation: callers pass fixed arrays. */
#ifndef T2_TEXT_H
#define T2_TEXT_H

#include "buf.h"

#include <stddef.h>

#define TEXT_WORD_MAX 48

typedef struct text_words {
    int n;
    char w[128][TEXT_WORD_MAX]; /* lower-case, stemmed unless raw was asked for */
} text_words;

/* Splits s into words: letters/digits runs; snake_case, kebab-case and camelCase are
 * split; lower-cased; stemmed when stem != 0. Words past the capacity are dropped. */
void text_split(const char *s, int stem, text_words *out);
/* Light English stemmer in place: plurals, -ing, -ed, -ly ("sales"->"sale",
 * "categories"->"category", "ordered"->"order"). Idempotent. */
void text_stem(char *w);
/* 1 if w is a stop word ("the", "of", "show", "what", ...). */
int text_is_stop(const char *w);
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
