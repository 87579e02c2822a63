/* convo -- conversations: the t2sql.conversations and t2sql.turns tables. This module owns all
 * SQL of both; it knows nothing of how a follow-up is read (pipeline_convo.c does that).
 *
 * A conversation belongs to the owner that created it (the key id or identity hash, '' when
 * anonymous), as a query_id does: another owner's id, an unknown id and one idle longer than
 * conversation_retention_s all give E_NOT_FOUND. Ids are "c_" + 32 lower-case hex digits;
 * anything else is E_VALIDATION on field "conversation_id". Every function takes a healthy
 * connection from the caller; on an error the caller runs pgc_check(). All SQL is
 * parameterised. */
#ifndef T2_CONVO_H
#define T2_CONVO_H

#include "buf.h"
#include "err.h"

#include <json-c/json.h>
#include <libpq-fe.h>

#define CONVO_ID_LEN 35

/* One earlier turn as a follow-up reads it; strings owned by the convo. */
typedef struct convo_turn {
    int n;
    char *question;      /* as asked */
    char *standalone;    /* resolved against the turns before it; NULL when it failed */
    char *sql;           /* NULL: it failed or asked back */
    char *clarification; /* the question asked back (JSON), or NULL */
    char *rows;          /* first rows (JSON array), only with conversation_prompt_rows */
} convo_turn;

typedef struct convo {
    char id[CONVO_ID_LEN];
    int is_new;    /* not stored yet: the first turn creates it */
    int nturns;    /* turns it holds */
    convo_turn *t; /* the last ones loaded, oldest first */
    int nt;
} convo;

/* What a turn stores; NULL / -1 fields are stored as NULL. */
typedef struct convo_turn_in {
    const char *question, *standalone, *sql, *query_id, *columns_json, *source, *explanation;
    const char *error_json, *clarification_json, *rows_json;
    long long row_count;
} convo_turn_in;

/* 1 if s is a well-formed conversation id, else 0. */
int convo_valid_id(const char *s);
/* A new conversation (nothing stored until its first turn); 0 or -1 with err. */
int convo_start(convo *c, t2err *err);
/* Loads conversation id of owner with its last k turns (oldest first). 0, or -1 with err:
 * E_VALIDATION (malformed id), E_NOT_FOUND, or a database error. Free with convo_free(). */
int convo_load(PGconn *conn, const char *id, const char *owner, long retention_s, int k, convo *c,
               t2err *err);
void convo_free(convo *c);
/* The last turn of c that has SQL, or NULL. */
const convo_turn *convo_last_answered(const convo *c);
/* Appends a turn (creating the conversation for owner when it is new, and then purging
 * conversations idle past retention_s). E_NOT_FOUND when someone else holds the id,
 * E_VALIDATION when it holds max_turns already. 0 or -1 with err. */
int convo_add_turn(PGconn *conn, const convo *c, const char *owner, long max_turns,
                   long retention_s, const convo_turn_in *t, t2err *err);
/* {"conversation_id", "created_at", "updated_at", "turns": [...]} of API.md; *out is the
 * caller's (json_object_put). E_VALIDATION, E_NOT_FOUND or a database error. */
int convo_list_json(PGconn *conn, const char *id, const char *owner, long retention_s,
                    json_object **out, t2err *err);
/* Removes the conversation and its turns. E_VALIDATION, E_NOT_FOUND or a database error. */
int convo_delete(PGconn *conn, const char *id, const char *owner, t2err *err);

#endif
