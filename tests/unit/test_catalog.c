/* test_catalog -- the catalog builder, lookups, foreign keys, the fingerprint and the JSON
 * round trip (catalog_load needs a database and is covered by the integration tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "catalog.h"

/* Two schemas, a view, comments, common values and two foreign keys. */
static catalog *sample(void)
{
    catalog *c = catalog_new();
    int cust, sales, ev, v;

    assert_non_null(c);
    cust = catalog_add_table(c, "public", "customers", 'r', "people who bought", 5000);
    assert_int_equal(cust, 0);
    assert_int_equal(catalog_add_column(c, cust, "id", "integer", NULL, 1, 1), 0);
    assert_int_equal(catalog_add_column(c, cust, "Full_Name", NULL, "", 0, 0), 1);
    v = catalog_add_column(c, cust, "city", "text", "home city", 0, 0);
    assert_int_equal(v, 2);
    assert_int_equal(catalog_add_value(c, cust, v, "Pune"), 0);
    assert_int_equal(catalog_add_value(c, cust, v, "Mumbai \"central\""), 0);

    sales = catalog_add_table(c, "public", "ticket_sales", 'r', NULL, -1);
    assert_int_equal(sales, 1);
    assert_int_equal(catalog_add_column(c, sales, "id", "bigint", NULL, 1, 1), 0);
    assert_int_equal(catalog_add_column(c, sales, "customer_id", "integer", NULL, 0, 0), 1);
    assert_int_equal(catalog_add_column(c, sales, "event_id", "integer", NULL, 0, 0), 2);
    assert_int_equal(catalog_add_column(c, sales, "price", "numeric(10,2)", NULL, 0, 1), 3);

    ev = catalog_add_table(c, "events", "events", 'v', "upcoming shows", 12.5);
    assert_int_equal(ev, 2);
    assert_int_equal(catalog_add_column(c, ev, "id", "integer", NULL, 0, 0), 0);
    assert_int_equal(catalog_add_column(c, ev, "starts_at", "timestamp with time zone", NULL, 0, 0),
                     1);

    assert_int_equal(catalog_add_fk(c, sales, 1, cust, 0), 0);
    assert_int_equal(catalog_add_fk(c, sales, 2, ev, 0), 0);
    return c;
}

static char *to_string(const catalog *c)
{
    json_object *j = catalog_to_json(c);
    char *s;

    assert_non_null(j);
    s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
    json_object_put(j);
    assert_non_null(s);
    return s;
}

static void test_builder(void **state)
{
    catalog *c = sample();
    const cat_table *t;

    (void)state;
    assert_int_equal(c->ntables, 3);
    assert_int_equal(c->nfks, 2);
    t = &c->tables[0];
    assert_string_equal(t->schema, "public");
    assert_string_equal(t->comment, "people who bought");
    assert_int_equal(t->kind, 'r');
    assert_int_equal(t->ncols, 3);
    assert_string_equal(t->cols[1].type, "text"); /* NULL type defaults to text */
    assert_null(t->cols[1].comment);              /* "" comment is no comment */
    assert_int_equal(t->cols[0].pk, 1);
    assert_int_equal(t->cols[2].nvalues, 2);
    assert_string_equal(t->cols[2].values[1], "Mumbai \"central\"");
    assert_null(c->tables[1].comment);
    assert_true(c->tables[1].rows < 0);
    assert_int_equal(c->fks[1].table, 1);
    assert_int_equal(c->fks[1].column, 2);
    assert_int_equal(c->fks[1].ref_table, 2);
    assert_int_equal(c->fks[1].ref_column, 0);
    assert_string_equal(c->fingerprint, "");
    catalog_free(c);
    catalog_free(NULL); /* allowed */
}

static void test_default_schema_and_growth(void **state)
{
    catalog *c = catalog_new();
    char name[32];
    int i, t;

    (void)state;
    t = catalog_add_table(c, NULL, "lonely", 'r', NULL, 0);
    assert_string_equal(c->tables[t].schema, "public");
    for (i = 0; i < 100; i++) { /* past the initial capacities */
        snprintf(name, sizeof name, "t%d", i);
        assert_int_equal(catalog_add_table(c, "s", name, 'r', NULL, i), i + 1);
        snprintf(name, sizeof name, "c%d", i);
        assert_int_equal(catalog_add_column(c, t, name, "int", NULL, 0, 0), i);
        assert_int_equal(catalog_add_fk(c, t, i, t, 0), 0);
    }
    assert_int_equal(c->ntables, 101);
    assert_int_equal(c->tables[0].ncols, 100);
    assert_int_equal(catalog_find_table(c, "s.t99"), 100);
    assert_int_equal(catalog_find_column(c, t, "C57"), 57);
    catalog_free(c);
}

static void test_find(void **state)
{
    static const unit_text_num tables[] = {
        {"customers", 0},
        {"CUSTOMERS", 0},
        {"public.customers", 0},
        {"Public.Customers", 0},
        {"events.events", 2},
        {"events", 2},
        {"public.events", -1}, /* wrong schema */
        {"pub.customers", -1},
        {"publicx.customers", -1},
        {"custom", -1},
        {"customers2", -1},
        {"", -1},
        {".customers", -1},
    };
    static const struct {
        int t;
        const char *name;
        int want;
    } cols[] = {
        {0, "full_name", 1}, {0, "FULL_NAME", 1}, {0, "city", 2},
        {0, "cit", -1},      {1, "price", 3},     {1, "city", -1},
    };
    catalog *c = sample();
    size_t i;

    (void)state;
    for (i = 0; i < sizeof tables / sizeof tables[0]; i++)
        assert_int_equal(catalog_find_table(c, tables[i].text), tables[i].want);
    for (i = 0; i < sizeof cols / sizeof cols[0]; i++)
        assert_int_equal(catalog_find_column(c, cols[i].t, cols[i].name), cols[i].want);
    catalog_free(c);
}

static void test_json_round_trip(void **state)
{
    catalog *c = sample(), *back;
    char *s1, *s2;
    json_object *j;

    (void)state;
    catalog_fingerprint(c);
    assert_int_equal(strlen(c->fingerprint), 64);
    s1 = to_string(c);
    j = json_tokener_parse(s1);
    assert_non_null(j);
    back = catalog_from_json(j);
    json_object_put(j);
    assert_non_null(back);
    s2 = to_string(back);
    assert_string_equal(s1, s2);
    assert_string_equal(back->fingerprint, c->fingerprint);
    assert_int_equal(back->nfks, 2);
    assert_int_equal(back->fks[1].ref_table, 2); /* resolved across schemas */
    assert_string_equal(back->tables[0].cols[2].values[0], "Pune");
    assert_int_equal(back->tables[2].kind, 'v');
    free(s1);
    free(s2);
    catalog_free(back);
    catalog_free(c);
}

static void test_json_without_fingerprint_computes_it(void **state)
{
    catalog *c = sample(), *back;
    json_object *j;

    (void)state;
    j = catalog_to_json(c); /* no fingerprint computed yet: none in the JSON */
    assert_false(json_object_object_get_ex(j, "fingerprint", NULL));
    back = catalog_from_json(j);
    json_object_put(j);
    assert_non_null(back);
    catalog_fingerprint(c);
    assert_string_equal(back->fingerprint, c->fingerprint);
    catalog_free(back);
    catalog_free(c);
}

static void set_text(char **field, const char *text)
{
    free(*field);
    *field = strdup(text);
}

/* c's fingerprint is no longer fp; frees c. */
static void print_changed(catalog *c, const char *fp)
{
    catalog_fingerprint(c);
    assert_string_not_equal(c->fingerprint, fp);
    catalog_free(c);
}

static void test_fingerprint(void **state)
{
    catalog *c = sample(), *d = sample();
    char fp[65];

    (void)state;
    catalog_fingerprint(c);
    catalog_fingerprint(d);
    assert_string_equal(c->fingerprint, d->fingerprint); /* same content, same print */
    memcpy(fp, c->fingerprint, sizeof fp);
    catalog_fingerprint(c); /* recomputing is stable */
    assert_string_equal(c->fingerprint, fp);

    catalog_free(c);
    c = sample(); /* a column comment changes */
    set_text(&c->tables[0].cols[2].comment, "where they live");
    print_changed(c, fp);
    c = sample(); /* a column is added */
    assert_int_equal(catalog_add_column(c, 1, "quantity", "integer", NULL, 0, 0), 4);
    print_changed(c, fp);
    c = sample(); /* a column type changes */
    set_text(&c->tables[1].cols[3].type, "numeric(12,2)");
    print_changed(c, fp);
    c = sample(); /* a table comment changes */
    set_text(&c->tables[2].comment, "past and upcoming shows");
    print_changed(c, fp);
    catalog_free(d);
}

static void test_from_json_rejects(void **state)
{
    static const char *const bad[] = {
        "{}",
        "[]",
        "{\"tables\": 3}",
        "{\"tables\": {}}",
        "{\"tables\": [{\"schema\": \"public\"}]}", /* table without a name */
        "{\"tables\": [{\"name\": 7}]}",            /* name not a string */
        "{\"tables\": [{\"name\": \"t\", \"columns\": [{\"type\": \"int\"}]}]}",
        "{\"tables\": [{\"name\": \"a\", \"columns\": [{\"name\": \"x\"}]},"
        " {\"name\": \"t\", \"columns\": [{\"name\": \"y\"}],"
        "  \"foreign_keys\": [{\"column\": \"y\"}]}]}", /* fk without a ref_table */
        "{\"tables\": [1, 2]}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object *j = json_tokener_parse(bad[i]);
        catalog *c;
        assert_non_null(j);
        c = catalog_from_json(j);
        assert_null(c);
        json_object_put(j);
    }
}

static void test_from_json_lenient_parts(void **state)
{
    /* unknown fks are skipped, defaults fill missing fields, extra members are ignored */
    const char *doc = "{\"tables\": [{\"name\": \"t\", \"extra\": true,"
                      " \"columns\": [{\"name\": \"id\", \"pk\": true}],"
                      " \"foreign_keys\": [{\"column\": \"id\", \"ref_table\": \"nope\","
                      "   \"ref_column\": \"id\"}]}]}";
    json_object *j = json_tokener_parse(doc);
    catalog *c;

    (void)state;
    c = catalog_from_json(j);
    json_object_put(j);
    assert_non_null(c);
    assert_int_equal(c->ntables, 1);
    assert_string_equal(c->tables[0].schema, "public");
    assert_int_equal(c->tables[0].kind, 'r');
    assert_true(c->tables[0].rows < 0);
    assert_string_equal(c->tables[0].cols[0].type, "text");
    assert_int_equal(c->tables[0].cols[0].pk, 1);
    assert_int_equal(c->nfks, 0);
    assert_int_equal(strlen(c->fingerprint), 64);
    catalog_free(c);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_builder),
             cmocka_unit_test(test_default_schema_and_growth), cmocka_unit_test(test_find),
             cmocka_unit_test(test_json_round_trip),
             cmocka_unit_test(test_json_without_fingerprint_computes_it),
             cmocka_unit_test(test_fingerprint), cmocka_unit_test(test_from_json_rejects),
             cmocka_unit_test(test_from_json_lenient_parts))
