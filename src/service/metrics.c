/* Metrics registry: a fixed array of series behind one mutex. Updates are a
 * few per frame, so one lock costs nothing measurable and keeps a scrape
 * consistent (a histogram's sum and count never disagree). */
#include "service/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ft_metric {
    ft_metrics *owner;
    const char *name, *labels, *help;
    ft_metric_type type;
    double value; /* counter/gauge; histogram sum */
    int n_buckets;
    double bounds[FT_METRICS_MAX_BUCKETS];
    unsigned long long counts[FT_METRICS_MAX_BUCKETS + 1]; /* per bucket, last = +Inf */
    unsigned long long count;
};

struct ft_metrics {
    pthread_mutex_t mu;
    int n;
    ft_metric series[FT_METRICS_MAX];
};

ft_status ft_service_metrics_create(ft_metrics **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return FT_ERR_NOMEM;
    pthread_mutex_init(&(*out)->mu, NULL);
    return FT_OK;
}

void ft_service_metrics_destroy(ft_metrics **m)
{
    if (!m || !*m)
        return;
    pthread_mutex_destroy(&(*m)->mu);
    free(*m);
    *m = NULL;
}

static bool name_ok(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == ':'))
            return false;
    return true;
}

ft_status ft_service_metrics_add(ft_metrics *m, const char *name, const char *labels,
                                 const char *help, ft_metric_type type, const double *buckets,
                                 int n_buckets, ft_metric **out)
{
    *out = NULL;
    if (!name_ok(name) || !help)
        return FT_ERR_INVALID;
    if (type == FT_METRIC_HISTOGRAM) {
        if (n_buckets < 1 || n_buckets > FT_METRICS_MAX_BUCKETS)
            return FT_ERR_INVALID;
        for (int i = 1; i < n_buckets; i++)
            if (!(buckets[i] > buckets[i - 1]))
                return FT_ERR_INVALID;
    }
    pthread_mutex_lock(&m->mu);
    ft_status st = FT_OK;
    if (m->n == FT_METRICS_MAX) {
        st = FT_ERR_NOMEM;
    } else {
        ft_metric *s = &m->series[m->n++];
        memset(s, 0, sizeof *s);
        *s = (ft_metric){.owner = m, .name = name, .labels = labels, .help = help, .type = type};
        if (type == FT_METRIC_HISTOGRAM) {
            s->n_buckets = n_buckets;
            memcpy(s->bounds, buckets, (size_t)n_buckets * sizeof *buckets);
        }
        *out = s;
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

void ft_service_metric_add(ft_metric *c, double v)
{
    if (!c || !(v >= 0))
        return;
    pthread_mutex_lock(&c->owner->mu);
    c->value += v;
    pthread_mutex_unlock(&c->owner->mu);
}

void ft_service_metric_set(ft_metric *g, double v)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->owner->mu);
    g->value = v;
    pthread_mutex_unlock(&g->owner->mu);
}

void ft_service_metric_observe(ft_metric *h, double v)
{
    if (!h || h->type != FT_METRIC_HISTOGRAM || isnan(v))
        return;
    int b = 0;
    while (b < h->n_buckets && v > h->bounds[b])
        b++;
    pthread_mutex_lock(&h->owner->mu);
    h->counts[b]++;
    h->count++;
    h->value += v;
    pthread_mutex_unlock(&h->owner->mu);
}

double ft_service_metric_value(const ft_metric *m)
{
    pthread_mutex_lock(&m->owner->mu);
    double v = m->type == FT_METRIC_HISTOGRAM ? (double)m->count : m->value;
    pthread_mutex_unlock(&m->owner->mu);
    return v;
}

void ft_service_metric_totals(const ft_metric *h, double *count, double *sum)
{
    pthread_mutex_lock(&h->owner->mu);
    *count = (double)h->count;
    *sum = h->value;
    pthread_mutex_unlock(&h->owner->mu);
}

double ft_service_metric_quantile(const ft_metric *h, double q)
{
    if (h->type != FT_METRIC_HISTOGRAM)
        return 0;
    pthread_mutex_lock(&h->owner->mu);
    double r = 0;
    if (h->count > 0) {
        double rank = q * (double)h->count;
        unsigned long long cum = 0;
        int b = 0;
        for (; b <= h->n_buckets; b++) {
            if ((double)(cum + h->counts[b]) >= rank)
                break;
            cum += h->counts[b];
        }
        if (b >= h->n_buckets) {
            r = h->bounds[h->n_buckets - 1]; /* in +Inf: the highest finite bound */
        } else {
            double lo = b == 0 ? 0 : h->bounds[b - 1];
            double in = (double)h->counts[b];
            r = lo + (h->bounds[b] - lo) * (in > 0 ? (rank - (double)cum) / in : 1);
        }
    }
    pthread_mutex_unlock(&h->owner->mu);
    return r;
}

/* Appends formatted text; sets *full once the buffer ran out. */
static void put(char *buf, size_t cap, size_t *len, bool *full, const char *fmt, ...)
{
    if (*full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        *full = true;
    else
        *len += (size_t)n;
}

/* Prometheus writes special floats as +Inf, -Inf and NaN. */
static const char *num(double v, char *b, size_t cap)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    snprintf(b, cap, "%.17g", v);
    return b;
}

ft_status ft_service_metrics_render(const ft_metrics *mc, char *buf, size_t cap, size_t *len)
{
    ft_metrics *m = (ft_metrics *)mc; /* the lock is not part of the logical state */
    static const char *const types[] = {"counter", "gauge", "histogram"};
    *len = 0;
    if (cap == 0)
        return FT_ERR_NOMEM;
    buf[0] = '\0';
    bool full = false;
    char nb[40];
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n; i++) {
        const ft_metric *s = &m->series[i];
        if (i == 0 || strcmp(m->series[i - 1].name, s->name))
            put(buf, cap, len, &full, "# HELP %s %s\n# TYPE %s %s\n", s->name, s->help, s->name,
                types[s->type]);
        const char *lb = s->labels && *s->labels ? s->labels : NULL;
        if (s->type != FT_METRIC_HISTOGRAM) {
            put(buf, cap, len, &full, "%s%s%s%s %s\n", s->name, lb ? "{" : "", lb ? lb : "",
                lb ? "}" : "", num(s->value, nb, sizeof nb));
            continue;
        }
        unsigned long long cum = 0;
        for (int b = 0; b <= s->n_buckets; b++) {
            cum += s->counts[b];
            put(buf, cap, len, &full, "%s_bucket{%s%sle=\"%s\"} %llu\n", s->name, lb ? lb : "",
                lb ? "," : "", b < s->n_buckets ? num(s->bounds[b], nb, sizeof nb) : "+Inf", cum);
        }
        put(buf, cap, len, &full, "%s_sum%s%s%s %s\n", s->name, lb ? "{" : "", lb ? lb : "",
            lb ? "}" : "", num(s->value, nb, sizeof nb));
        put(buf, cap, len, &full, "%s_count%s%s%s %llu\n", s->name, lb ? "{" : "", lb ? lb : "",
            lb ? "}" : "", s->count);
    }
    pthread_mutex_unlock(&m->mu);
    if (full) {
        buf[0] = '\0';
        *len = 0;
        return FT_ERR_NOMEM;
    }
    return FT_OK;
}
