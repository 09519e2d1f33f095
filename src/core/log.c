/* Logging: text or JSON lines on stderr or an append-only file, with secrets
 * masked before anything is written. */
#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* After the NULL: Python's names (the deployment guide's LOG_LEVEL comes
 * from the Python program), read as ours. */
static const char *const level_names[] = {"debug", "info",    "warn", "error",    "off",
                                          NULL,    "warning", "warn", "critical", "error",
                                          "fatal", "error",   NULL};
static const char *const format_names[] = {"auto", "text", "json", NULL};

const ft_option ft_log_options[] = {
    {"level",
     "Least severe level written (Python's warning and critical are read as warn and error).",
     FT_OPT_ENUM, offsetof(ft_log_params, level), "info", 0, 0, FT_OPT_HOT | FT_OPT_ALIASES,
     "LOG_LEVEL", level_names},
    {"file", "Append log records to this file instead of stderr (\"\" = stderr).", FT_OPT_STRING,
     offsetof(ft_log_params, file), "", 0, 0, 0, "LOG_FILE", NULL},
    {"format", "auto: text on a terminal, JSON lines otherwise.", FT_OPT_ENUM,
     offsetof(ft_log_params, format), "auto", 0, 0, 0, NULL, format_names},
    {"cloudwatch_emf",
     "Services (stream, each serve worker) write a CloudWatch embedded-metric-format record "
     "(namespace FootballTracker: FPS, Latency, LostFrames, ChaosMode, GPUUtil, VRAM) to the "
     "log once per interval, always as a JSON line.",
     FT_OPT_BOOL, offsetof(ft_log_params, cloudwatch_emf), "false", 0, 0, FT_OPT_HOT, NULL, NULL},
    {"cloudwatch_emf_interval_s",
     "Seconds each CloudWatch EMF record averages over (60: the guide's alarm period).", FT_OPT_INT,
     offsetof(ft_log_params, cloudwatch_emf_interval_s), "60", 1, 3600, FT_OPT_HOT, NULL, NULL},
    FT_OPTION_END,
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* Read on every call from any thread without the lock, hence atomic. */
static _Atomic int g_level = FT_LOG_INFO;
static _Atomic int g_format = FT_LOG_FORMAT_AUTO;
static FILE *g_file;          /* LOG_FILE, or NULL for stderr */
static char g_stream_id[128]; /* "" = none */

static FILE *dest(void)
{
    return g_file ? g_file : stderr;
}

/* Whether records to `f` are JSON lines. Called with g_lock held. */
static bool json_to(FILE *f)
{
    return g_format == FT_LOG_FORMAT_JSON || (g_format == FT_LOG_FORMAT_AUTO && !isatty(fileno(f)));
}

static FILE *open_log_file(const char *path)
{
    FILE *f = fopen(path, "a");
    if (f)
        setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

/* Programs that never load the configuration (tools, early errors) still
 * honour LOG_LEVEL and LOG_FILE. */
static void init_from_env(void)
{
    const char *lv = getenv("LOG_LEVEL");
    const int level = lv && *lv ? ft_option_choice_index(&ft_log_options[0], lv) : -1;
    if (level >= 0)
        g_level = level;
    const char *file = getenv("LOG_FILE");
    if (file && *file)
        g_file = open_log_file(file);
}

void ft_log_set_level(ft_log_level level)
{
    pthread_once(&g_once, init_from_env);
    g_level = level;
}

ft_log_level ft_log_get_level(void)
{
    pthread_once(&g_once, init_from_env);
    return (ft_log_level)g_level;
}

void ft_log_set_format(ft_log_format format)
{
    pthread_once(&g_once, init_from_env);
    g_format = format;
}

void ft_log_set_stream_id(const char *id)
{
    pthread_mutex_lock(&g_lock);
    snprintf(g_stream_id, sizeof(g_stream_id), "%s", id ? id : "");
    pthread_mutex_unlock(&g_lock);
}

ft_status ft_log_configure(const ft_log_params *p)
{
    pthread_once(&g_once, init_from_env);
    FILE *f = NULL;
    if (p->file[0]) {
        f = open_log_file(p->file);
        if (!f) {
            fprintf(stderr, "football-tracker: logging.file: cannot open %s: %s\n", p->file,
                    strerror(errno));
            return FT_ERR_CONFIG;
        }
    }
    pthread_mutex_lock(&g_lock);
    if (g_file)
        fclose(g_file);
    g_file = f;
    g_level = p->level;
    g_format = p->format;
    pthread_mutex_unlock(&g_lock);
    return FT_OK;
}

/* ---- sanitising ---------------------------------------------------------- */

typedef struct sink {
    char *out;
    size_t cap, len;
    bool full; /* truncated: nothing more is written */
} sink;

static void put_raw(sink *s, char ch)
{
    if (!s->full && s->len + 1 < s->cap)
        s->out[s->len++] = ch;
    else
        s->full = true;
}

/* Writes `n` bytes whole, or marks the sink full: never half an escape or
 * half a UTF-8 sequence. */
static void put_all(sink *s, const char *t, size_t n)
{
    if (s->full || s->len + n >= s->cap) {
        s->full = true;
        return;
    }
    memcpy(s->out + s->len, t, n);
    s->len += n;
}

/* Control characters (and bytes that are not UTF-8) are escaped so one record
 * stays one line and a crafted string cannot fake records or terminal
 * sequences. */
static void put_escaped(sink *s, unsigned char ch)
{
    static const char hex[] = "0123456789abcdef";
    char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
    if (ch == '\n' || ch == '\t' || ch == '\r') {
        esc[1] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
        put_all(s, esc, 2);
        return;
    }
    put_all(s, esc, 4);
}

static void put_char(sink *s, unsigned char ch)
{
    if (ch >= 0x20 && ch < 0x7f)
        put_raw(s, (char)ch);
    else
        put_escaped(s, ch);
}

/* Length of the valid UTF-8 sequence at p (2 to 4 bytes, no overlongs,
 * surrogates or code points past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n;
    unsigned min;
    unsigned cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, min = 0x80, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, min = 0x800, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, min = 0x10000, cp = p[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Copies one character of user text at p: printable ASCII as is, a valid
 * UTF-8 sequence whole, anything else escaped, so JSON consumers always get
 * valid UTF-8. Returns the input bytes consumed. */
static size_t put_text_char(sink *s, const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t n = u[0] >= 0x80 ? utf8_len(u) : 0;
    if (n) {
        put_all(s, p, n);
        return n;
    }
    put_char(s, u[0]);
    return 1;
}

static void put_str(sink *s, const char *t)
{
    while (*t)
        put_char(s, (unsigned char)*t++);
}

static bool is_word(char ch)
{
    return isalnum((unsigned char)ch);
}

/* Characters that end a URL or a query value inside free text. */
static bool ends_token(char ch)
{
    return !ch || isspace((unsigned char)ch) || ch == '"' || ch == '\'' || ch == '<' || ch == '>' ||
           ch == ',' || ch == ';' || ch == ')' || ch == ']' || ch == '}';
}

/* Length of "scheme://" at p (scheme: letters, digits, + - .), 0 if none. */
static size_t scheme_len(const char *p)
{
    size_t n = 0;
    if (!isalpha((unsigned char)p[0]))
        return 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '+' || p[n] == '-' || p[n] == '.')
        n++;
    return strncmp(p + n, "://", 3) ? 0 : n + 3;
}

/* Copies the URL at `p` (scheme included) with user:password@ and, for RTMP,
 * the stream key masked. Returns how many input bytes it consumed; the query
 * string is left to the caller, whose key= rule masks its secrets. */
static size_t put_url(sink *s, const char *p, size_t slen)
{
    bool rtmp = !strncasecmp(p, "rtmp", 4); /* rtmp, rtmps, rtmpe, rtmpt */
    size_t i = 0;
    while (i < slen)
        i += put_text_char(s, p + i);
    size_t auth_end = i;
    while (!ends_token(p[auth_end]) && p[auth_end] != '/' && p[auth_end] != '?' &&
           p[auth_end] != '#')
        auth_end++;
    const char *at = NULL;
    for (size_t k = i; k < auth_end; k++)
        if (p[k] == '@')
            at = p + k;
    if (at) {
        put_str(s, "***");
        i = (size_t)(at - p);
    }
    while (i < auth_end)
        i += put_text_char(s, p + i);
    size_t path_end = i;
    while (!ends_token(p[path_end]) && p[path_end] != '?' && p[path_end] != '#')
        path_end++;
    /* "URL: reason", as every input and output error is written: the colon
     * is the message's, not the stream key's (it was masked with it). */
    if (path_end > i && p[path_end - 1] == ':' && ends_token(p[path_end]))
        path_end--;
    if (!rtmp)
        return i;
    size_t last = path_end;
    while (last > i && p[last - 1] != '/')
        last--;
    while (i < last)
        i += put_text_char(s, p + i);
    if (last < path_end && last > auth_end)
        put_str(s, "***");
    return path_end;
}

/* Whether a structured field's value is secret by its name alone: one of the
 * marker names, or a name ending in "_<marker>" (stream_key). */
static bool secret_field(const char *key)
{
    static const char *const names[] = {"token", "key", "password", "passwd", "secret"};
    size_t kl = strlen(key);
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        size_t n = strlen(names[k]);
        if (kl >= n && !strcasecmp(key + kl - n, names[k]) &&
            (kl == n || !is_word(key[kl - n - 1])))
            return true;
    }
    return false;
}

/* Length of a "name=" secret marker at p (token=, key=, password=, secret=,
 * and names ending in them such as stream_key=), 0 if none. */
static size_t secret_marker(const char *in, const char *p)
{
    static const char *const names[] = {"token=", "key=", "password=", "passwd=", "secret="};
    if (p > in && is_word(p[-1]))
        return 0;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        size_t n = strlen(names[k]);
        if (!strncasecmp(p, names[k], n))
            return n;
    }
    return 0;
}

size_t ft_log_sanitize(const char *in, char *out, size_t cap)
{
    sink s = {out, cap, 0, false};
    if (!cap)
        return 0;
    const char *p = in ? in : "";
    while (*p) {
        size_t n;
        if ((p == in || !is_word(p[-1])) && (n = scheme_len(p)) > 0) {
            p += put_url(&s, p, n);
            continue;
        }
        if ((n = secret_marker(in, p)) > 0) {
            put_all(&s, p, n); /* the marker itself: ASCII letters and '=' */
            p += n;
            if (!ends_token(*p) && *p != '&') {
                put_str(&s, "***");
                while (!ends_token(*p) && *p != '&')
                    p++;
            }
            continue;
        }
        p += put_text_char(&s, p);
    }
    out[s.len] = '\0';
    return s.len;
}

/* ---- records ------------------------------------------------------------- */

/* JSON string body of an already sanitised string (no control characters). */
static void put_json(sink *s, const char *t)
{
    for (; *t; t++) {
        if (*t == '"' || *t == '\\')
            put_raw(s, '\\');
        put_raw(s, *t);
    }
}

static void put_lit(sink *s, const char *t)
{
    while (*t)
        put_raw(s, *t++);
}

/* Writes the literal `prefix`, then `value` sanitised and JSON-escaped. */
static void put_json_field(sink *s, const char *prefix, const char *value)
{
    char clean[512];
    put_lit(s, prefix);
    ft_log_sanitize(value ? value : "", clean, sizeof(clean));
    put_json(s, clean);
}

static void timestamp(char *out, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    time_t t = tv.tv_sec;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

static void log_record(ft_log_level level, const char *module, const ft_log_field *fields, int n,
                       const char *fmt, va_list ap)
{
    pthread_once(&g_once, init_from_env);
    if ((int)level < g_level || level >= FT_LOG_OFF)
        return;
    char raw[2048], msg[4096], clean[512], line[8192], ts[40];
    vsnprintf(raw, sizeof(raw), fmt, ap);
    ft_log_sanitize(raw, msg, sizeof(msg));
    timestamp(ts, sizeof(ts));
    sink s = {line, sizeof(line), 0, false};

    pthread_mutex_lock(&g_lock);
    FILE *f = dest();
    if (json_to(f)) {
        put_lit(&s, "{\"ts\":\"");
        put_lit(&s, ts);
        put_lit(&s, "\",\"level\":\"");
        put_lit(&s, level_names[level]);
        put_json_field(&s, "\",\"module\":\"", module ? module : "-");
        if (g_stream_id[0])
            put_json_field(&s, "\",\"stream\":\"", g_stream_id);
        put_lit(&s, "\",\"msg\":\"");
        put_json(&s, msg);
        put_raw(&s, '"');
        if (n > 0) {
            put_lit(&s, ",\"fields\":{");
            for (int i = 0; i < n; i++) {
                put_json_field(&s, i ? ",\"" : "\"", fields[i].key);
                put_json_field(&s, "\":\"", secret_field(fields[i].key) ? "***" : fields[i].value);
                put_raw(&s, '"');
            }
            put_raw(&s, '}');
        }
        put_raw(&s, '}');
    } else {
        ft_log_sanitize(g_stream_id, clean, sizeof(clean));
        int w = snprintf(line, sizeof(line), "%s %-5s [%s%s%s] ", ts, level_names[level],
                         module ? module : "-", clean[0] ? " " : "", clean);
        s.len = (size_t)w < sizeof(line) ? (size_t)w : sizeof(line) - 1;
        put_str(&s, msg);
        for (int i = 0; i < n; i++) {
            put_raw(&s, ' ');
            ft_log_sanitize(fields[i].key, clean, sizeof(clean));
            put_str(&s, clean);
            put_raw(&s, '=');
            ft_log_sanitize(secret_field(fields[i].key) ? "***" : fields[i].value, clean,
                            sizeof(clean));
            put_str(&s, clean);
        }
    }
    line[s.len] = '\0';
    fprintf(f, "%s\n", line);
    pthread_mutex_unlock(&g_lock);
}

void ft_log_v(ft_log_level level, const char *module, const char *fmt, va_list ap)
{
    log_record(level, module, NULL, 0, fmt, ap);
}

void ft_log(ft_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_record(level, module, NULL, 0, fmt, ap);
    va_end(ap);
}

void ft_log_fields(ft_log_level level, const char *module, const ft_log_field *fields, int n,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_record(level, module, fields, n, fmt, ap);
    va_end(ap);
}

bool ft_log_json_lines(void)
{
    pthread_once(&g_once, init_from_env);
    pthread_mutex_lock(&g_lock);
    bool json = json_to(dest());
    pthread_mutex_unlock(&g_lock);
    return json;
}

/* The record follows CloudWatch's embedded metric format specification: an
 * "_aws" object (Timestamp in milliseconds since the epoch, one metric
 * directive naming the namespace, the dimension sets and each metric's name
 * and unit) and every metric value and dimension value as a member of the
 * root object. CloudWatch Logs extracts the metrics itself, so shipping the
 * log (CloudWatch agent, awslogs driver) is all an operator has to set up. */
void ft_log_emf(const char *ns, const ft_log_metric *m, int n)
{
    pthread_once(&g_once, init_from_env);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char line[4096], num[64];
    sink s = {line, sizeof(line), 0, false};

    pthread_mutex_lock(&g_lock);
    snprintf(num, sizeof(num), "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    put_lit(&s, "{\"_aws\":{\"Timestamp\":");
    put_lit(&s, num);
    put_json_field(&s, ",\"CloudWatchMetrics\":[{\"Namespace\":\"", ns);
    put_lit(&s, g_stream_id[0] ? "\",\"Dimensions\":[[\"Stream\"],[]],\"Metrics\":["
                               : "\",\"Dimensions\":[[]],\"Metrics\":[");
    bool first = true;
    for (int i = 0; i < n; i++) {
        if (!isfinite(m[i].value))
            continue;
        put_json_field(&s, first ? "{\"Name\":\"" : ",{\"Name\":\"", m[i].name);
        put_json_field(&s, "\",\"Unit\":\"", m[i].unit);
        put_lit(&s, "\"}");
        first = false;
    }
    put_lit(&s, "]}]}");
    if (g_stream_id[0]) {
        put_json_field(&s, ",\"Stream\":\"", g_stream_id);
        put_raw(&s, '"');
    }
    for (int i = 0; i < n; i++) {
        if (!isfinite(m[i].value))
            continue;
        put_json_field(&s, ",\"", m[i].name);
        snprintf(num, sizeof(num), "\":%.10g", m[i].value);
        put_lit(&s, num);
    }
    put_raw(&s, '}');
    /* A truncated record would be invalid JSON: CloudWatch would drop it
     * anyway, so it is not written (the caller's metrics never fill 4 KiB). */
    if (!s.full) {
        line[s.len] = '\0';
        fprintf(dest(), "%s\n", line);
    }
    pthread_mutex_unlock(&g_lock);
}
