/* test_ragindex -- retrieval's catalog index: what abbreviations and glued words stand for,
 * name-word rarity, naming-convention join keys, copies of tables, and the index's lifetime
 * in the catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "catalog.h"
#include "ragindex.h"

static int table(catalog *c, const char *name, const char *comment, const char *const *cols)
{
    int t = catalog_add_table(c, "public", name, 'r', comment, -1), i;

    assert_true(t >= 0);
    for (i = 0; cols[i]; i++) { /* a leading '*' marks the primary key */
        const char *n = cols[i] + (cols[i][0] == '*');
        assert_true(catalog_add_column(c, t, n, "text", NULL, cols[i][0] == '*', 0) >= 0);
    }
    return t;
}

#define COLS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The weight with which the word of stem occurs in table t; 0 if it does not. */
static float weight_in(const rag_index *x, const char *stem, int t)
{
    int w = rag_index_word(x, stem), p;

    if (w < 0) return 0;
    for (p = x->words[w].post; p < x->words[w].post + x->words[w].npost; p++)
        if (x->posts[p].table == t) return x->posts[p].weight;
    return 0;
}

static int edge_to(const rag_index *x, int from, int to)
{
    const ri_table *rt = &x->tables[from];
    int i;

    for (i = rt->ref; i < rt->ref + rt->nref; i++)
        if (x->refs[i].to == to) return 1;
    return 0;
}

static void test_expansions(void **state)
{
    catalog *c = catalog_new();
    int hdr, sig, glued, plain;
    const rag_index *x;

    (void)state;
    hdr = table(c, "cust_ord_hdr", NULL, COLS("*ord_id", "ord_dt"));
    sig = table(c, "svc_rpt", NULL, COLS("*rpt_id", "cust_sgnd_flg"));
    table(c, "contracts", "contracts signed by the customer", COLS("*contract_id", "billing_cd"));
    glued = table(c, "billingaccount", NULL, COLS("*billingaccountid", "accountname"));
    plain = table(c, "accounts", NULL, COLS("*id", "name"));
    assert_non_null(x = rag_index_get(c));
    /* the common table: hdr is a header, ord an order, in the name (weight 2) and less */
    assert_true(weight_in(x, "header", hdr) > 1.0f && weight_in(x, "header", hdr) < 2.0f);
    assert_true(weight_in(x, "order", hdr) > 1.0f);
    assert_true(weight_in(x, "date", hdr) > 0); /* dt, in a column */
    assert_float_equal(weight_in(x, "hdr", hdr), 2.0f, 1e-6);
    /* learned: sgnd abbreviates "signed", which a comment spells out */
    assert_true(weight_in(x, "sign", sig) > 0);
    assert_true(weight_in(x, "sign", sig) < 1.5f);
    /* glued: billingaccount is made of words seen elsewhere */
    assert_true(weight_in(x, "bill", glued) > 1.0f);
    assert_true(weight_in(x, "account", glued) > 1.0f);
    assert_float_equal(weight_in(x, "bill", plain), 0, 1e-6);
    assert_int_equal(rag_index_word(x, "nosuchword"), -1);
    catalog_free(c);
}

static void test_join_keys(void **state)
{
    catalog *c = catalog_new();
    int cust, emp, usr, ord, quote, people, visits, i;
    const rag_index *x;

    (void)state;
    cust = table(c, "cust_mstr", NULL, COLS("*cust_id", "cust_nm", "crt_usr_id"));
    emp = table(c, "emp_mstr", NULL, COLS("*emp_id", "emp_nm", "crt_usr_id"));
    usr = table(c, "app_usr", NULL, COLS("*usr_id", "login_nm", "crt_usr_id"));
    ord =
        table(c, "cust_ord_hdr", NULL, COLS("*ord_id", "cust_id", "sls_rep_emp_id", "crt_usr_id"));
    quote = table(c, "quote", NULL, COLS("*quote_id", "cust_id", "crt_usr_id"));
    people = table(c, "customers", NULL, COLS("*id", "name", "crt_usr_id"));
    visits = table(c, "visits", NULL, COLS("*id", "customer_id", "crt_usr_id"));
    for (i = 0; i < 3; i++)
        table(c, i == 0 ? "t_a" : i == 1 ? "t_b" : "t_c", NULL, COLS("*x_id", "crt_usr_id"));
    assert_non_null(x = rag_index_get(c));
    assert_true(edge_to(x, ord, cust)); /* same name as cust_mstr's key */
    assert_true(edge_to(x, ord, emp));  /* sls_rep_emp_id ends with emp_id */
    assert_true(edge_to(x, quote, cust));
    assert_true(edge_to(x, visits, people)); /* customer_id -> customers keyed "id" */
    assert_false(edge_to(x, ord, usr));      /* crt_usr_id is in every table: bookkeeping */
    assert_false(edge_to(x, cust, usr));
    assert_false(edge_to(x, cust, ord));
    assert_false(edge_to(x, cust, cust)); /* its own key */
    catalog_free(c);
}

static void test_copies(void **state)
{
    catalog *c = catalog_new();
    int base, hist, stg, bak, load, finding, txn, aud_log, jobhist;
    const rag_index *x;

    (void)state;
    base = table(c, "cust_mstr", NULL, COLS("*cust_id", "cust_nm", "rgn_cd", "crdt_lmt_amt"));
    hist = table(c, "cust_mstr_hist", NULL,
                 COLS("*hist_id", "cust_id", "cust_nm", "rgn_cd", "crdt_lmt_amt", "eff_strt_ts"));
    stg = table(c, "stg_cust_mstr", NULL, COLS("cust_id", "cust_nm", "rgn_cd", "crdt_lmt_amt"));
    bak =
        table(c, "cust_mstr_bak_2019", NULL, COLS("cust_id", "cust_nm", "rgn_cd", "crdt_lmt_amt"));
    txn = table(c, "tblStockTxn", NULL, COLS("*TxnID", "ItemID", "TxnQty", "TxnDate", "UnitCost"));
    load = table(c, "tmp_StockTxn_Load", NULL,
                 COLS("TxnID", "ItemID", "TxnQty", "TxnDate", "UnitCost"));
    finding = table(c, "aud_finding", "internal audit findings", COLS("*finding_id", "rtng_cd"));
    aud_log = table(c, "app_login_aud", NULL, COLS("*login_aud_id", "usr_id", "login_ts"));
    jobhist = table(c, "hr_emp_job_hist", NULL, COLS("emp_id", "job_cd", "eff_dt"));
    assert_non_null(x = rag_index_get(c));
    assert_int_equal(x->tables[hist].copy_of, base);
    assert_int_equal(x->tables[stg].copy_of, base);
    assert_int_equal(x->tables[bak].copy_of, base);
    assert_int_equal(x->tables[bak].nmarker, 2);    /* bak and 2019 */
    assert_int_equal(x->tables[load].copy_of, txn); /* by its columns */
    assert_int_equal(x->tables[base].copy_of, -1);
    assert_int_equal(x->tables[finding].copy_of, -1); /* audit is what it is about */
    assert_int_equal(x->tables[aud_log].copy_of, -1);
    assert_int_equal(x->tables[jobhist].copy_of, -1); /* a history with no twin */
    catalog_free(c);
}

/* Module prefixes shared by many tables weigh less in a name than the word that tells. */
static void test_name_rarity(void **state)
{
    catalog *c = catalog_new();
    const rag_index *x;
    const ri_table *rt;
    int t, i;

    (void)state;
    for (i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "hr_%c%c_thing", 'a' + i, 'a' + i);
        table(c, name, NULL, COLS("*id"));
    }
    t = table(c, "hr_payroll", NULL, COLS("*id"));
    assert_non_null(x = rag_index_get(c));
    rt = &x->tables[t];
    assert_int_equal(rt->ngroup, 2);
    assert_true(x->gweight[rt->group] < x->gweight[rt->group + 1] / 2);
    catalog_free(c);
}

/* The index lives in the catalog: built once, dropped when the catalog changes. */
static void test_lifetime(void **state)
{
    catalog *c = catalog_new();
    const rag_index *x, *again;
    int t;

    (void)state;
    t = table(c, "orders", NULL, COLS("*id", "total"));
    assert_non_null(x = rag_index_get(c));
    assert_ptr_equal(c->derived->p, x);
    assert_non_null(again = rag_index_get(c));
    assert_ptr_equal(again, x);
    assert_int_equal(rag_index_word(x, "discount"), -1);
    assert_true(catalog_add_column(c, t, "discount", "numeric", NULL, 0, 0) >= 0);
    assert_null(c->derived->p); /* dropped with the change */
    assert_non_null(x = rag_index_get(c));
    assert_true(rag_index_word(x, "discount") >= 0);
    catalog_free(c); /* frees the index too (the sanitizer build checks) */
}

static void test_empty(void **state)
{
    catalog *c = catalog_new();
    const rag_index *x;

    (void)state;
    assert_non_null(x = rag_index_get(c));
    assert_int_equal(x->ntables, 0);
    assert_int_equal(x->nwords, 0);
    catalog_free(c);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_expansions), cmocka_unit_test(test_join_keys),
             cmocka_unit_test(test_copies), cmocka_unit_test(test_name_rarity),
             cmocka_unit_test(test_lifetime), cmocka_unit_test(test_empty))
