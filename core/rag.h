/* rag -- retrieval: picks the part of the catalog, the glossary entries and the verified
 * examples relevant to a question and renders them as prompt context within a token budget.
 *
 * Owns nothing past the call: the context text goes into a caller-owned buf, the selection
 * into a caller-owned rag_selection. */
#ifndef T2_RAG_H
#define T2_RAG_H

#include "buf.h"
#include "catalog.h"
#include "glossary.h"

typedef struct rag_example {
    const char *question;
    const char *sql;
} rag_example;

#define RAG_MAX_TABLES 256

typedef struct rag_selection {
    int tables[RAG_MAX_TABLES]; /* catalog table indexes put into the context, best first */
    int ntables;
    int tokens; /* estimated tokens of the rendered context */
} rag_selection;

/* Renders into out: the selected tables (columns, types, keys, comments, common values),
 * matched glossary hints and up to nex few-shot examples, within budget_tokens.
 * Returns 0 or -1 (out of memory). */
int rag_context(const catalog *cat, const glossary *g, const rag_example *ex, int nex,
                const char *question, long budget_tokens, buf *out, rag_selection *sel);
/* Builds the catalog's retrieval index now (kept in the catalog; else the first rag_context
 * on it builds it), e.g. right after a reload. 0 or -1 (out of memory). */
int rag_prepare(const catalog *cat);
/* Rough token estimate of text (the same one the budget uses). */
int rag_tokens(const char *text, size_t len);

#endif
