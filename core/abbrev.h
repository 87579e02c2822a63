/* abbrev -- abbreviations of identifier words: a table of the ones common in enterprise
 * schemas and data dictionaries ("cust" customer, "qty" quantity, "hdr" header), and the test
 * whether a short token can abbreviate a given word ("crdt" credit, "sgnd" signed).
 *
 * Owns only static, read-only data; nothing is allocated. */
#ifndef T2_ABBREV_H
#define T2_ABBREV_H

/* The expansions of the lower-case token tok in the common table: writes up to max pointers to
 * static, space-separated words ("purchase order") into out; returns how many (0 if none). */
int abbrev_expand(const char *tok, const char **out, int max);
/* 1 if the lower-case token a can abbreviate the lower-case word w: same first letter, w at
 * least two letters longer, and either a is a prefix of w (3+ letters) or a is a consonant
 * skeleton of w (3+ letters, no vowel after its first one, its letters in order among w's
 * consonants with at most one of those left out: "hdr" header, "qty" quantity). */
int abbrev_of(const char *a, const char *w);
/* 1 if tok looks like an abbreviation rather than a word: 2 to 6 letters and no vowel after
 * the first letter, or listed in the common table. */
int abbrev_like(const char *tok);

#endif
