/* text -- tokenizing, stemming (Snowball English, through libstemmer) and similarity of
 * short texts; see text.h. */
#include "text.h"

#include <ctype.h>
#include <libstemmer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int is_word_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* The Snowball stemmer and a memo of its answers: each worker stems the same catalog words
 * for every question, and a memo hit costs a hash and a compare where Snowball costs about
 * a microsecond. Direct-mapped: a colliding word replaces the slot's. Words of STEM_KEY bytes
 * or more are not remembered. Both are made on first use and kept for the process. */
#define STEM_SLOTS 8192 /* power of two */
#define STEM_KEY   24

typedef struct stem_slot {
    char word[STEM_KEY];
    char stem[STEM_KEY];
} stem_slot;

static struct sb_stemmer *stemmer;
static stem_slot *stem_memo;

static uint32_t word_hash(const char *w, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)w[i]) * 16777619u;
    return h;
}

void text_stem(char *w)
{
    size_t n = strlen(w), sl;
    stem_slot *slot = NULL;
    const sb_symbol *st;

    if (n == 0) return;
    if (!stemmer && !(stemmer = sb_stemmer_new("english", NULL))) return;
    if (!stem_memo) stem_memo = calloc(STEM_SLOTS, sizeof *stem_memo);
    if (stem_memo && n < STEM_KEY) {
        slot = &stem_memo[word_hash(w, n) & (STEM_SLOTS - 1)];
        if (strcmp(slot->word, w) == 0) {
            memcpy(w, slot->stem, strlen(slot->stem) + 1);
            return;
        }
    }
    if (!(st = sb_stemmer_stem(stemmer, (const sb_symbol *)w, (int)n))) return;
    sl = (size_t)sb_stemmer_length(stemmer);
    if (sl > n) return; /* English stems never grow; keep the word if one did */
    if (slot) {
        memcpy(slot->word, w, n + 1);
        memcpy(slot->stem, st, sl);
        slot->stem[sl] = '\0';
    }
    memcpy(w, st, sl);
    w[sl] = '\0';
}

int text_is_plural(const char *w)
{
    char a[TEXT_WORD_MAX], b[TEXT_WORD_MAX];
    size_t n = strlen(w);

    if (n < 3 || n >= TEXT_WORD_MAX || w[n - 1] != 's' || w[n - 2] == 's') return 0;
    memcpy(a, w, n + 1);
    memcpy(b, w, n - 1);
    b[n - 1] = '\0';
    text_stem(a);
    text_stem(b);
    return strcmp(a, b) == 0;
}

/* Makes the stems and a hash of them (open addressing, the first word of each stem). */
static void wordset_build(text_wordset *ws)
{
    int i;

    memset(ws->slot, 0, sizeof ws->slot);
    for (i = 0; ws->words[i] && i < TEXT_WORDSET_MAX; i++) {
        uint32_t h;
        str_copy(ws->stems[i], TEXT_WORD_MAX, ws->words[i]);
        text_stem(ws->stems[i]);
        for (h = word_hash(ws->stems[i], strlen(ws->stems[i])) % TEXT_WORDSET_SLOTS;
             ws->slot[h] && strcmp(ws->stems[ws->slot[h] - 1], ws->stems[i]) != 0;
             h = (h + 1) % TEXT_WORDSET_SLOTS)
            ;
        if (!ws->slot[h]) ws->slot[h] = (short)(i + 1);
    }
    ws->n = i;
}

int text_wordset_find(text_wordset *ws, const char *stem)
{
    uint32_t h;

    if (ws->n == 0) wordset_build(ws);
    for (h = word_hash(stem, strlen(stem)) % TEXT_WORDSET_SLOTS; ws->slot[h];
         h = (h + 1) % TEXT_WORDSET_SLOTS)
        if (strcmp(ws->stems[ws->slot[h] - 1], stem) == 0) return ws->slot[h] - 1;
    return -1;
}

const char *text_wordset_stem(text_wordset *ws, int i)
{
    if (ws->n == 0) wordset_build(ws);
    return i >= 0 && i < ws->n ? ws->stems[i] : NULL;
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
            /* camelCase boundary: lower followed by upper; an acronym ends before its last
             * capital when a word follows ("UOMCode" -> "UOM" "Code"), not a plural s
             * ("DRGs") */
            if (i > start && isupper(p[i]) &&
                (islower(p[i - 1]) ||
                 (isupper(p[i - 1]) && islower(p[i + 1]) &&
                  !(p[i + 1] == 's' && !isalnum(p[i + 2]) && p[i + 2] < 0x80)))) {
                add_word(out, s + start, i - start, stem);
                start = i;
            }
            i++;
        }
        add_word(out, s + start, i - start, stem);
    }
}

static const char *const stop_list[] = {
    "a",     "about", "all",   "also",  "an",     "and",    "any",     "are",    "as",    "at",
    "be",    "been",  "by",    "can",   "could",  "did",    "display", "do",     "does",  "each",
    "every", "find",  "for",   "from",  "get",    "give",   "had",     "has",    "have",  "how",
    "i",     "in",    "into",  "is",    "it",     "its",    "list",    "me",     "my",    "of",
    "on",    "or",    "our",   "per",   "please", "return", "s",       "should", "show",  "some",
    "t",     "tell",  "than",  "that",  "the",    "their",  "them",    "then",   "there", "these",
    "they",  "this",  "those", "to",    "was",    "we",     "were",    "what",   "which", "who",
    "whom",  "whose", "with",  "would", "you",    "your",   NULL,
};
static text_wordset stop_words = {.words = stop_list};

int text_is_stop(const char *w)
{
    /* every identifier word of a catalog comes through here: no stop word's stem is longer */
    if (w[0] == '\0' || strlen(w) > 8) return 0;
    return text_wordset_find(&stop_words, w) >= 0;
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
