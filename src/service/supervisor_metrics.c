/* Worker metrics as the supervisor republishes them: every sample gets a
 * stream="<id>" label, and the families of all workers are merged so each
 * HELP/TYPE pair appears once (Prometheus rejects a family split in two). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "service/supervisor.h"
#include "service/supervisor_internal.h"

static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:";

static bool put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > cap)
        return false;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

ft_status ft_service_metrics_relabel(const char *in, size_t in_len, const char *id, bool with_meta,
                                     char *out, size_t cap, size_t *len)
{
    const char *end = in + in_len;
    size_t idl = strlen(id);
    for (const char *l = in; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - l);
        bool ok = true;
        if (n == 0) {
        } else if (l[0] == '#') {
            ok = !with_meta || (put(out, cap, len, l, n) && put(out, cap, len, "\n", 1));
        } else {
            size_t nm = strspn(l, name_chars);
            if (nm > n)
                nm = n;
            bool has_labels = nm < n && l[nm] == '{';
            bool empty_labels = has_labels && nm + 1 < n && l[nm + 1] == '}';
            ok = put(out, cap, len, l, nm) && put(out, cap, len, "{stream=\"", 9) &&
                 put(out, cap, len, id, idl);
            if (ok && has_labels && !empty_labels) /* name{stream="id",a="b"} v */
                ok = put(out, cap, len, "\",", 2) && put(out, cap, len, l + nm + 1, n - nm - 1);
            else if (ok && has_labels) /* name{} v */
                ok = put(out, cap, len, "\"", 1) && put(out, cap, len, l + nm + 1, n - nm - 1);
            else if (ok) /* name v */
                ok = put(out, cap, len, "\"}", 2) && put(out, cap, len, l + nm, n - nm);
            ok = ok && put(out, cap, len, "\n", 1);
        }
        if (!ok)
            return FT_ERR_NOMEM;
        l = le + 1;
    }
    return FT_OK;
}

/* "# HELP name ..." / "# TYPE name ...": the name's offset and length. */
static bool meta_name(const char *l, size_t n, size_t *off, size_t *nl)
{
    if (n < 8 || (strncmp(l, "# HELP ", 7) && strncmp(l, "# TYPE ", 7)))
        return false;
    *off = 7;
    *nl = strspn(l + 7, name_chars);
    if (*nl > n - 7)
        *nl = n - 7;
    return *nl > 0;
}

void ft_serve_scrape_index(ft_serve_scrape *s, const char *text, size_t len)
{
    s->text = text;
    s->len = len;
    s->n_families = 0;
    ft_serve_family *cur = NULL;
    const char *end = text + len;
    for (const char *l = text; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        const char *le = nl ? nl : end;
        size_t off = (size_t)(l - text), next = nl ? off + (size_t)(le - l) + 1 : len;
        size_t no, nn;
        if (l[0] == '#' && meta_name(l, (size_t)(le - l), &no, &nn)) {
            /* TYPE right after HELP of the same name continues the family. */
            bool same = cur && cur->end == cur->samples && cur->name_len == nn &&
                        !memcmp(cur->name, l + no, nn);
            if (!same) {
                if (s->n_families == FT_SERVE_MAX_FAMILIES) {
                    cur = NULL;
                } else {
                    cur = &s->fam[s->n_families++];
                    cur->name = l + no;
                    cur->name_len = nn;
                    cur->meta = off;
                }
            }
            if (cur)
                cur->samples = cur->end = next;
        } else if (cur) {
            cur->end = next;
        }
        l = le + 1;
    }
}

double ft_serve_scrape_value(const ft_serve_scrape *s, const char *series)
{
    size_t n = strlen(series);
    const char *end = s->text + s->len;
    for (const char *l = s->text; l && l < end;) {
        if ((size_t)(end - l) > n && !memcmp(l, series, n) && l[n] == ' ')
            return strtod(l + n + 1, NULL);
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        l = nl ? nl + 1 : NULL;
    }
    return NAN;
}

static const ft_serve_family *find_family(const ft_serve_scrape *s, const char *name, size_t nl)
{
    for (int i = 0; i < s->n_families; i++)
        if (s->fam[i].name_len == nl && !memcmp(s->fam[i].name, name, nl))
            return &s->fam[i];
    return NULL;
}

ft_status ft_serve_scrape_merge(const ft_serve_scrape *const *scrapes, const char *const *ids,
                                int n, char *out, size_t cap, size_t *len)
{
    /* Families in the order the workers list them; a family only a later
     * worker has (another version mid-upgrade) comes when that worker is met. */
    for (int w = 0; w < n; w++) {
        for (int f = 0; f < scrapes[w]->n_families; f++) {
            const ft_serve_family *fam = &scrapes[w]->fam[f];
            bool seen = false;
            for (int e = 0; e < w && !seen; e++)
                seen = find_family(scrapes[e], fam->name, fam->name_len) != NULL;
            if (seen)
                continue;
            if (!put(out, cap, len, scrapes[w]->text + fam->meta, fam->samples - fam->meta))
                return FT_ERR_NOMEM;
            for (int o = w; o < n; o++) {
                const ft_serve_family *g = find_family(scrapes[o], fam->name, fam->name_len);
                if (!g)
                    continue;
                ft_status st =
                    ft_service_metrics_relabel(scrapes[o]->text + g->samples, g->end - g->samples,
                                               ids[o], false, out, cap, len);
                if (st)
                    return st;
            }
        }
    }
    return FT_OK;
}
