/* text -- tokenizing, stemming and similarity of short texts; see text.h. */
#include "text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int is_word_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

static size_t ends(const char *w, size_t n, const char *suf)
{
    size_t s = strlen(suf);
    return n > s && memcmp(w + n - s, suf, s) == 0 ? s : 0;
}

/* Plurals of words ending in "ie", which the "ies" -> "y" rule would mangle ("movies" ->
 * "movy" would no longer match a "movie" table); and words whose -s is not a plural. */
static int ie_plural(const char *w)
{
    static const char *const ie[] = {"movies",   "cookies", "calories", "rookies", "zombies",
                                     "goalies",  "selfies", "brownies", "hoodies", "smoothies",
                                     "freebies", "pies",    "ties",     "lies",    "genies",
                                     "prairies", "aunties", "eyries",   NULL};
    int i;

    for (i = 0; ie[i]; i++)
        if (strcmp(w, ie[i]) == 0) return 1;
    return 0;
}

/* One round of suffix stripping. */
static void stem_once(char *w)
{
    size_t n = strlen(w);

    if (n <= 3) return;
    if (w[n - 1] == 's' &&
        (strcmp(w, "series") == 0 || strcmp(w, "species") == 0 || strcmp(w, "news") == 0))
        return;
    if (ends(w, n, "ies") && ie_plural(w)) { /* movies -> movie */
        w[n - 1] = '\0';
        return;
    }
    if (ends(w, n, "ies") && n > 4) { /* categories -> category */
        w[n - 3] = 'y';
        w[n - 2] = '\0';
        return;
    }
    if (ends(w, n, "sses")) { /* classes -> class */
        w[n - 2] = '\0';
        return;
    }
    if (ends(w, n, "xes") || ends(w, n, "ches") || ends(w, n, "shes")) {
        w[n - 2] = '\0';
        return;
    }
    if (ends(w, n, "ss") || ends(w, n, "us") || ends(w, n, "is")) return;
    if (w[n - 1] == 's') {
        w[n - 1] = '\0';
        return;
    }
    if (ends(w, n, "ing") && n > 5) {
        w[n - 3] = '\0';
        n -= 3;
        if (n > 2 && w[n - 1] == w[n - 2] && !strchr("aeiouls", w[n - 1]))
            w[n - 1] = '\0'; /* running -> run */
        return;
    }
    if (ends(w, n, "ed") && n > 4) {
        w[n - 2] = '\0';
        n -= 2;
        if (n > 2 && w[n - 1] == w[n - 2] && !strchr("aeiouls", w[n - 1])) w[n - 1] = '\0';
        return;
    }
}

/* Strips until nothing changes, so that the stem of a plural is the stem of its singular
 * ("meetings" -> "meeting" -> "meet") and stemming a stem changes nothing. Each round that
 * changes w shortens it, so this ends. */
void text_stem(char *w)
{
    size_t n;

    do {
        n = strlen(w);
        stem_once(w);
    } while (strlen(w) != n);
}

static void add_word(text_words *out, const char *s, size_t n, int stem)
{
    size_t i;
    char *w;

    if (n == 0 || out->n >= (int)(sizeof out->w / sizeof out->w[0])) return;
    if (n >= TEXT_WORD_MAX) n = TEXT_WORD_MAX - 1;
    w = out->w[out->n++];
    for (i = 0; i < n; i++)
        w[i] = (char)tolower((unsigned char)s[i]);
    w[n] = '\0';
    if (stem) text_stem(w);
}

void text_split(const char *s, int stem, text_words *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, start;

    out->n = 0;
    while (p[i]) {
        while (p[i] && !is_word_char(p[i]))
            i++;
        start = i;
        while (p[i] && is_word_char(p[i])) {
            /* camelCase boundary: lower followed by upper */
            if (i > start && isupper(p[i]) && islower(p[i - 1])) {
                add_word(out, s + start, i - start, stem);
                start = i;
            }
            i++;
        }
        add_word(out, s + start, i - start, stem);
    }
}

/* Sorted (strcmp order) for bsearch: every identifier word of a catalog goes through here. */
static const char *const stop_words[] = {
    "a",     "about", "all",   "also",  "an",    "and",    "any",     "are",  "as",     "at",
    "be",    "been",  "by",    "can",   "could", "did",    "display", "do",   "doe",    "each",
    "every", "find",  "for",   "from",  "get",   "give",   "ha",      "had",  "has",    "have",
    "how",   "i",     "in",    "into",  "is",    "it",     "its",     "list", "me",     "my",
    "of",    "on",    "or",    "our",   "per",   "please", "return",  "s",    "should", "show",
    "some",  "t",     "tell",  "than",  "that",  "the",    "their",   "them", "then",   "there",
    "these", "they",  "this",  "those", "to",    "was",    "we",      "were", "what",   "which",
    "who",   "whom",  "whose", "with",  "would", "you",    "your",
};

static int cmp_word(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

int text_is_stop(const char *w)
{
    if (w[0] == '\0' || strlen(w) > 8) return 0;
    return bsearch(w, stop_words, sizeof stop_words / sizeof stop_words[0], sizeof stop_words[0],
                   cmp_word) != NULL;
}

void text_normalize(const char *s, char *dst, size_t len)
{
    text_words tw;
    size_t pos = 0;
    int i;

    if (len == 0) return;
    dst[0] = '\0';
    text_split(s, 0, &tw);
    for (i = 0; i < tw.n; i++) {
        size_t wl = strlen(tw.w[i]);
        if (pos + wl + (pos ? 1 : 0) + 1 > len) break;
        if (pos) dst[pos++] = ' ';
        memcpy(dst + pos, tw.w[i], wl);
        pos += wl;
        dst[pos] = '\0';
    }
}

/* Collects the distinct non-stop stemmed words of s. */
static void word_set(const char *s, text_words *set)
{
    text_words tw;
    int i, j;

    text_split(s, 1, &tw);
    set->n = 0;
    for (i = 0; i < tw.n; i++) {
        if (text_is_stop(tw.w[i])) continue;
        for (j = 0; j < set->n; j++)
            if (strcmp(set->w[j], tw.w[i]) == 0) break;
        if (j == set->n) memcpy(set->w[set->n++], tw.w[i], TEXT_WORD_MAX);
    }
}

double text_similarity(const char *a, const char *b)
{
    static text_words sa, sb;
    int i, j, common = 0, uni;

    word_set(a, &sa);
    word_set(b, &sb);
    for (i = 0; i < sa.n; i++)
        for (j = 0; j < sb.n; j++)
            if (strcmp(sa.w[i], sb.w[j]) == 0) {
                common++;
                break;
            }
    uni = sa.n + sb.n - common;
    return uni ? (double)common / uni : 0.0;
}

int text_edit_distance(const char *a, const char *b, int cap)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    int row[TEXT_WORD_MAX * 2 + 1];

    if (la > TEXT_WORD_MAX * 2 || lb > TEXT_WORD_MAX * 2) return cap;
    if ((la > lb ? la - lb : lb - la) >= (size_t)cap) return cap;
    for (j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (i = 1; i <= la; i++) {
        int prev = row[0], best;
        row[0] = (int)i;
        best = row[0];
        for (j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int v = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < v ? sub : v;
            prev = cur;
            if (row[j] < best) best = row[j];
        }
        if (best >= cap) return cap;
    }
    return row[lb] < cap ? row[lb] : cap;
}

int text_fold(const char *s, buf *out)
{
    size_t start = out->len;
    int space = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isspace(c)) {
            space = out->len > start;
            continue;
        }
        if ((space && buf_addc(out, ' ') < 0) || buf_addc(out, (char)tolower(c)) < 0) return -1;
        space = 0;
    }
    while (out->len > start && strchr("?.! ", out->p[out->len - 1]))
        out->p[--out->len] = '\0';
    return 0;
}
