/* suggest -- questions offered when one cannot be answered; see suggest.h. */
#include "suggest.h"

#include <string.h>
#include <strings.h>

static int has(json_object *arr, const char *q)
{
    size_t i, n = json_object_array_length(arr);

    for (i = 0; i < n; i++)
        if (strcasecmp(json_object_get_string(json_object_array_get_idx(arr, i)), q) == 0) return 1;
    return 0;
}

static void add(json_object *arr, const char *q, size_t len, int max)
{
    char tmp[512];

    if ((int)json_object_array_length(arr) >= max || len == 0 || len >= sizeof tmp) return;
    memcpy(tmp, q, len);
    tmp[len] = '\0';
    if (!has(arr, tmp)) json_object_array_add(arr, json_object_new_string(tmp));
}

/* The planner's reason ends "I can answer questions like "A" or "B"." */
static void from_reason(json_object *arr, const char *why, int max)
{
    const char *p = why ? strstr(why, "I can answer questions like ") : NULL;
    const char *a, *b;

    if (!p) return;
    for (p += 28; (a = strchr(p, '"')) != NULL && (b = strchr(a + 1, '"')) != NULL; p = b + 1)
        add(arr, a + 1, (size_t)(b - a - 1), max);
}

json_object *suggest_questions(const t2ctx *x, const char *why, int max)
{
    json_object *arr = json_object_new_array();
    int i;

    from_reason(arr, why, max);
    if (x->cf->example_match_pct <= 100)
        for (i = 0; i < x->examples.n; i++)
            add(arr, x->examples.v[i].question, strlen(x->examples.v[i].question), max);
    return arr;
}
