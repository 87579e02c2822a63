/* llm -- the language model client over libcurl with a kept-alive handle, connect and
 * total timeouts, and extraction of SQL from the reply. Providers: OpenAI-compatible chat
 * completions (OpenAI, Ollama, vLLM, llama.cpp), Anthropic's Messages API and Amazon
 * Bedrock's Converse API (SigV4-signed by core/sigv4, service "bedrock"). A key with no
 * base URL means the provider's own service (api.openai.com / api.anthropic.com).
 *
 * An llm owns its CURL handle and, for Bedrock, copies of the AWS credentials (the secret and
 * token wiped on free); llm_free() releases all of it. Replies are bounded (4 MiB). The API
 * key and the AWS secret only ever go into request headers, never in logs or errors. */
#ifndef T2_LLM_H
#define T2_LLM_H

#include "buf.h"
#include "conf.h"
#include "err.h"

typedef struct llm llm;

llm *llm_new(const conf *cf);
void llm_free(llm *m);
/* 1 when a base URL or a key is configured (local servers need no key). */
int llm_configured(const llm *m);
const char *llm_model(const llm *m);
/* Sends system + user messages; appends the assistant's text to reply. 0, or -1 with
 * E_LLM_TIMEOUT / E_LLM_UNAVAILABLE / E_LLM_ERROR. */
int llm_chat(llm *m, const char *system, const char *user, buf *reply, t2err *err);
/* Appends the SQL found in text (<sql>...</sql>, else a ```sql or ``` fenced block) to sql.
 * Returns 0, or -1 if there is none. */
int llm_extract_sql(const char *text, buf *sql);
/* The durations (ms) of the calls made since the last take (up to LLM_TIMINGS are kept),
 * copied into ms[0..max); returns how many, and forgets them. */
#define LLM_TIMINGS 8
int llm_take_timings(llm *m, double *ms, int max);

#endif
