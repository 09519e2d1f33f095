/* The embedded /status page (HTML, CSS and plain JavaScript drawing on
 * canvases; no external resources, so it works offline and behind strict
 * networks). It shows the /preview.mjpg stream and polls /status.json once a
 * second for the fps, latency and mode charts. */
#ifndef FT_SERVICE_STATUS_PAGE_H
#define FT_SERVICE_STATUS_PAGE_H

/* NUL-terminated page text (static). */
extern const char ft_service_status_html[];

#endif
