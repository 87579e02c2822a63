/* abbrev -- common identifier abbreviations and the abbreviation test; see abbrev.h. */
#include "abbrev.h"

#include <stdlib.h>
#include <string.h>

typedef struct abbrev_entry {
    const char *tok, *words;
} abbrev_entry;

/* Abbreviations seen in most enterprise data dictionaries and naming standards (class words
 * such as amt/qty/dt/cd/nm, and the business nouns every ERP, HR and CRM shortens). Sorted by
 * tok (strcmp order; a token with several meanings has one entry for each) for bsearch. */
static const abbrev_entry abbrevs[] = {
    {"acct", "account"},
    {"accum", "accumulated"},
    {"acq", "acquisition"},
    {"actl", "actual"},
    {"actv", "active"},
    {"addr", "address"},
    {"adj", "adjustment"},
    {"adm", "administration"},
    {"admin", "administration"},
    {"agt", "agent"},
    {"alloc", "allocation"},
    {"amt", "amount"},
    {"anl", "annual"},
    {"annl", "annual"},
    {"appl", "application"},
    {"appr", "approval"},
    {"apprvd", "approved"},
    {"aprv", "approve"},
    {"aprvd", "approved"},
    {"aprvl", "approval"},
    {"aprvr", "approver"},
    {"arch", "archive"},
    {"asgmt", "assignment"},
    {"asgn", "assignment"},
    {"assoc", "associate"},
    {"attr", "attribute"},
    {"aud", "audit"},
    {"auth", "authorization"},
    {"avg", "average"},
    {"bak", "backup"},
    {"bal", "balance"},
    {"bdgt", "budget"},
    {"ben", "benefit"},
    {"bkp", "backup"},
    {"bldg", "building"},
    {"bnft", "benefit"},
    {"brch", "breach"},
    {"btch", "batch"},
    {"bus", "business"},
    {"cal", "calendar"},
    {"calc", "calculated"},
    {"cap", "capacity"},
    {"cat", "category"},
    {"catg", "category"},
    {"cd", "code"},
    {"cert", "certification"},
    {"cfg", "configuration"},
    {"chg", "change"},
    {"chk", "check"},
    {"chnl", "channel"},
    {"cls", "class"},
    {"clsd", "closed"},
    {"cmnt", "comment"},
    {"cmpgn", "campaign"},
    {"cmpl", "complete"},
    {"cmplt", "complete"},
    {"cmsn", "commission"},
    {"cnt", "count"},
    {"cntct", "contact"},
    {"cntrct", "contract"},
    {"cntry", "country"},
    {"co", "company"},
    {"comm", "commission"},
    {"comp", "compensation"},
    {"config", "configuration"},
    {"conv", "conversion"},
    {"corp", "corporate"},
    {"cr", "credit"},
    {"crdt", "credit"},
    {"crs", "course"},
    {"crt", "created"},
    {"csat", "customer satisfaction"},
    {"ctgry", "category"},
    {"ctr", "center"},
    {"ctry", "country"},
    {"cur", "currency"},
    {"curr", "currency"},
    {"cust", "customer"},
    {"cvg", "coverage"},
    {"dbt", "debit"},
    {"del", "delivery"},
    {"depr", "depreciation"},
    {"dept", "department"},
    {"desc", "description"},
    {"dest", "destination"},
    {"dfct", "defect"},
    {"dflt", "default"},
    {"diff", "difference"},
    {"disc", "discount"},
    {"dist", "distribution"},
    {"div", "division"},
    {"dlv", "delivery"},
    {"dlvry", "delivery"},
    {"doc", "document"},
    {"dr", "debit"},
    {"dt", "date"},
    {"dtl", "detail"},
    {"dur", "duration"},
    {"eff", "effective"},
    {"elig", "eligible"},
    {"emerg", "emergency"},
    {"emp", "employee"},
    {"empl", "employee"},
    {"emrg", "emergency"},
    {"engmt", "engagement"},
    {"enrl", "enrollment"},
    {"env", "environment"},
    {"est", "estimated"},
    {"evt", "event"},
    {"exp", "expense"},
    {"expr", "expiry"},
    {"ext", "external"},
    {"extl", "external"},
    {"fac", "facility"},
    {"fcst", "forecast"},
    {"fin", "finance"},
    {"fisc", "fiscal"},
    {"flg", "flag"},
    {"flr", "floor"},
    {"fmly", "family"},
    {"fmt", "format"},
    {"freq", "frequency"},
    {"frst", "first"},
    {"frt", "freight"},
    {"fte", "full time equivalent"},
    {"fx", "foreign exchange"},
    {"fy", "fiscal year"},
    {"gl", "general ledger"},
    {"gndr", "gender"},
    {"grd", "grade"},
    {"grp", "group"},
    {"gtwy", "gateway"},
    {"hdr", "header"},
    {"hist", "history"},
    {"hol", "holiday"},
    {"hr", "human resources"},
    {"hrs", "hours"},
    {"id", "identifier"},
    {"incdnt", "incident"},
    {"ind", "indicator"},
    {"indstry", "industry"},
    {"info", "information"},
    {"insp", "inspection"},
    {"instl", "installation"},
    {"int", "internal"},
    {"intrco", "intercompany"},
    {"intvw", "interview"},
    {"inv", "invoice"},
    {"inv", "inventory"},
    {"invc", "invoice"},
    {"iss", "issue"},
    {"itm", "item"},
    {"jrnl", "journal"},
    {"juris", "jurisdiction"},
    {"kb", "knowledge base"},
    {"lbr", "labor"},
    {"lgl", "legal"},
    {"lkp", "lookup"},
    {"lmt", "limit"},
    {"ln", "line"},
    {"lnk", "link"},
    {"loc", "location"},
    {"lst", "last"},
    {"lu", "lookup"},
    {"lv", "leave"},
    {"lvl", "level"},
    {"mach", "machine"},
    {"maint", "maintenance"},
    {"matl", "material"},
    {"mbr", "member"},
    {"mfg", "manufacturing"},
    {"mfr", "manufacturer"},
    {"mgmt", "management"},
    {"mgr", "manager"},
    {"mins", "minutes"},
    {"mkt", "market"},
    {"mktg", "marketing"},
    {"mlstn", "milestone"},
    {"mnth", "month"},
    {"mo", "month"},
    {"msg", "message"},
    {"mstr", "master"},
    {"mth", "month"},
    {"mthd", "method"},
    {"mtl", "material"},
    {"mtr", "matter"},
    {"nbr", "number"},
    {"nm", "name"},
    {"no", "number"},
    {"ntfy", "notification"},
    {"num", "number"},
    {"obl", "obligation"},
    {"op", "operation"},
    {"oper", "operation"},
    {"opnd", "opened"},
    {"opp", "opportunity"},
    {"oppty", "opportunity"},
    {"ord", "order"},
    {"org", "organization"},
    {"orig", "original"},
    {"pct", "percent"},
    {"perf", "performance"},
    {"perm", "permission"},
    {"phn", "phone"},
    {"pkg", "package"},
    {"plcy", "policy"},
    {"pmt", "payment"},
    {"pos", "point of sale"},
    {"prc", "price"},
    {"prd", "period"},
    {"pref", "preferred"},
    {"prfcy", "proficiency"},
    {"prj", "project"},
    {"prncpl", "principal"},
    {"prnt", "parent"},
    {"prob", "probability"},
    {"prod", "product"},
    {"proj", "project"},
    {"promo", "promotion"},
    {"prov", "province"},
    {"prty", "priority"},
    {"pstd", "posted"},
    {"pstl", "postal"},
    {"pur", "purchase"},
    {"purch", "purchase"},
    {"pymt", "payment"},
    {"qc", "quality control"},
    {"qlty", "quality"},
    {"qtr", "quarter"},
    {"qty", "quantity"},
    {"rcpt", "receipt"},
    {"rcv", "receive"},
    {"rcvd", "received"},
    {"rdng", "reading"},
    {"recv", "received"},
    {"ref", "reference"},
    {"reg", "registration"},
    {"rej", "rejected"},
    {"rjct", "rejected"},
    {"rls", "release"},
    {"rltn", "relationship"},
    {"rnw", "renewal"},
    {"rpt", "report"},
    {"rqst", "request"},
    {"rqstr", "requester"},
    {"rslt", "result"},
    {"rsltn", "resolution"},
    {"rsn", "reason"},
    {"rsrc", "resource"},
    {"rt", "rate"},
    {"rtg", "routing"},
    {"rtn", "return"},
    {"rtng", "rating"},
    {"rvw", "review"},
    {"rvwr", "reviewer"},
    {"sal", "salary"},
    {"sched", "schedule"},
    {"scr", "score"},
    {"seg", "segment"},
    {"sess", "session"},
    {"sgmt", "segment"},
    {"shp", "shipment"},
    {"shpt", "shipment"},
    {"sls", "sales"},
    {"smry", "summary"},
    {"splr", "supplier"},
    {"spnd", "spend"},
    {"src", "source"},
    {"srvy", "survey"},
    {"st", "state"},
    {"stat", "status"},
    {"std", "standard"},
    {"stg", "staging"},
    {"stmt", "statement"},
    {"strt", "start"},
    {"sts", "status"},
    {"submt", "submitted"},
    {"supp", "supplier"},
    {"svc", "service"},
    {"svrty", "severity"},
    {"sys", "system"},
    {"tbl", "table"},
    {"tech", "technician"},
    {"temp", "temporary"},
    {"terr", "territory"},
    {"tgt", "target"},
    {"tkt", "ticket"},
    {"tm", "time"},
    {"tmp", "temporary"},
    {"tmplt", "template"},
    {"tmsht", "timesheet"},
    {"tot", "total"},
    {"trans", "transaction"},
    {"trk", "tracking"},
    {"trng", "training"},
    {"trsy", "treasury"},
    {"trx", "transaction"},
    {"ttl", "title"},
    {"txn", "transaction"},
    {"typ", "type"},
    {"tz", "time zone"},
    {"uom", "unit of measure"},
    {"upd", "updated"},
    {"usr", "user"},
    {"util", "utility"},
    {"val", "value"},
    {"vchr", "voucher"},
    {"veh", "vehicle"},
    {"vend", "vendor"},
    {"ver", "version"},
    {"vndr", "vendor"},
    {"wh", "warehouse"},
    {"whld", "withheld"},
    {"whse", "warehouse"},
    {"wk", "week"},
    {"wo", "work order"},
    {"wrk", "work"},
    {"wrnty", "warranty"},
    {"wt", "weight"},
    {"xchg", "exchange"},
    {"xfer", "transfer"},
    {"yr", "year"},
    {"ytd", "year to date"},
};

#define NABBREVS (sizeof abbrevs / sizeof abbrevs[0])

static int cmp_entry(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const abbrev_entry *)elem)->tok);
}

int abbrev_expand(const char *tok, const char **out, int max)
{
    const abbrev_entry *e = bsearch(tok, abbrevs, NABBREVS, sizeof abbrevs[0], cmp_entry);
    int n = 0;

    if (!e) return 0;
    while (e > abbrevs && strcmp(e[-1].tok, tok) == 0) /* the first of its entries */
        e--;
    for (; e < abbrevs + NABBREVS && strcmp(e->tok, tok) == 0 && n < max; e++)
        out[n++] = e->words;
    return n;
}

static int is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static int is_letter(char c)
{
    return c >= 'a' && c <= 'z';
}

/* 1 if no letter of a after its first is a vowel, and all are letters. */
static int skeleton(const char *a)
{
    const char *p;

    for (p = a; *p; p++)
        if (!is_letter(*p) || (p > a && is_vowel(*p))) return 0;
    return 1;
}

int abbrev_of(const char *a, const char *w)
{
    size_t la = strlen(a), lw = strlen(w);
    const char *p = w;
    int skipped = 0;

    if (la < 3 || lw < la + 2 || a[0] != w[0] || !is_letter(a[0])) return 0;
    if (strncmp(a, w, la) == 0) return 1;
    if (!skeleton(a)) return 0;
    /* a's letters in order among w's consonants, skipping at most one of them ("qty"
     * quantity skips the n; "appl" is not approval, which would skip r and v) */
    for (a++, p++; *a && *p; p++) {
        if (is_vowel(*p) || *p == a[-1]) continue; /* a doubled letter counts once */
        if (*p == *a)
            a++;
        else if (++skipped > 1)
            return 0;
    }
    return *a == '\0';
}

int abbrev_like(const char *tok)
{
    size_t n = strlen(tok);
    const char *one;

    if (n >= 2 && n <= 6 && skeleton(tok)) return 1;
    return abbrev_expand(tok, &one, 1) > 0;
}
