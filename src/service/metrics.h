/* Metrics registry and its Prometheus text exposition (format 0.0.4).
 *
 * Metrics are registered once at start-up (fixed capacity, no allocation
 * afterwards) and updated from any thread. A family is one metric name; its
 * series differ by a label set given as text ("stage=\"decode\""). Series of
 * one family must be registered one after another so HELP/TYPE is printed
 * once per family. Label values and help texts come from the program, never
 * from a request or a URL, so secrets cannot leak through them. */
#ifndef FT_SERVICE_METRICS_H
#define FT_SERVICE_METRICS_H

#include <stddef.h>

#include "core/status.h"

typedef enum ft_metric_type {
    FT_METRIC_COUNTER = 0,
    FT_METRIC_GAUGE,
    FT_METRIC_HISTOGRAM,
} ft_metric_type;

/* Capacity of a registry and of a histogram's bucket list. */
#define FT_METRICS_MAX 64
#define FT_METRICS_MAX_BUCKETS 16

typedef struct ft_metrics ft_metrics;
typedef struct ft_metric ft_metric; /* one series; owned by its registry */

/* Creates an empty registry (*out returned-owned). */
FT_NODISCARD ft_status ft_service_metrics_create(ft_metrics **out);

/* Frees the registry and every series (NULL allowed); sets *m to NULL. */
void ft_service_metrics_destroy(ft_metrics **m);

/* Registers one series. `name` ([a-zA-Z_:][a-zA-Z0-9_:]*), `labels` (NULL or
 * the text between the braces) and `help` are borrowed and must outlive the
 * registry (string literals). Histograms take `n_buckets` increasing upper
 * bounds (copied; +Inf is implicit). *out is borrowed from the registry.
 * FT_ERR_INVALID for a bad name or bucket list, FT_ERR_NOMEM when full. */
FT_NODISCARD ft_status ft_service_metrics_add(ft_metrics *m, const char *name, const char *labels,
                                              const char *help, ft_metric_type type,
                                              const double *buckets, int n_buckets,
                                              ft_metric **out);

/* Adds v (>= 0) to a counter. */
void ft_service_metric_add(ft_metric *c, double v);

/* Sets a gauge, or a counter mirrored from a total kept elsewhere. */
void ft_service_metric_set(ft_metric *g, double v);

/* Records one observation in a histogram. */
void ft_service_metric_observe(ft_metric *h, double v);

/* Current value (counter/gauge) or observation count (histogram). */
double ft_service_metric_value(const ft_metric *m);

/* A histogram's observation count and sum, read together (one consistent
 * snapshot), so that a caller can average over an interval from two reads. */
void ft_service_metric_totals(const ft_metric *h, double *count, double *sum);

/* Estimated quantile q (0..1) of a histogram, interpolated inside the bucket
 * where it falls as Prometheus' histogram_quantile does; 0 when empty. */
double ft_service_metric_quantile(const ft_metric *h, double q);

/* Writes the exposition text into buf (cap bytes, NUL-terminated) and its
 * length to *len. FT_ERR_NOMEM when cap is too small. */
FT_NODISCARD ft_status ft_service_metrics_render(const ft_metrics *m, char *buf, size_t cap,
                                                 size_t *len);

#endif
