/* Alert webhook: one JSON POST to an http:// URL (an Alertmanager-style
 * receiver on the local network), sent by the stream service when an input
 * or output stays down through five reconnect attempts. Plain HTTP only, a
 * short timeout, no retries: alerting must never hold up the service. */
#ifndef FT_SERVICE_WEBHOOK_H
#define FT_SERVICE_WEBHOOK_H

#include <stdbool.h>

#include "core/status.h"

/* Is `url` an http://host[:port][/path] URL this client can post to? */
bool ft_service_webhook_url_ok(const char *url);

/* POSTs `json` (borrowed) to `url`, waiting at most timeout_ms for the
 * connection and the status line. FT_ERR_CONFIG for an unusable URL,
 * FT_ERR_IO (logged, URL sanitised) when the receiver cannot be reached or
 * does not answer 2xx. */
FT_NODISCARD ft_status ft_service_webhook_post(const char *url, const char *json, int timeout_ms);

#endif
