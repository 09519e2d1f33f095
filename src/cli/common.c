/* Options shared by the batch, stream and detect commands. */
#include "cli/common.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pipeline/settings.h"

void ft_cli_common_init(ft_cli_common *c)
{
    memset(c, 0, sizeof(*c));
    const char *m = getenv("FT_MODEL_CONFIG");
    const char *s = getenv("FT_STREAM_CONFIG");
    if (m)
        snprintf(c->sources.files[FT_CONFIG_FILE_MODEL], FT_OPT_STRLEN, "%s", m);
    if (s)
        snprintf(c->sources.files[FT_CONFIG_FILE_STREAM], FT_OPT_STRLEN, "%s", s);
}

/* Options that set one configuration key; the value is checked when the
 * configuration loads, so errors name the flag and the key alike. */
static const struct {
    const char *flag;
    const char *key;
    const char *fixed; /* value of a flag without argument, else NULL */
} key_flags[] = {
    {"--confidence", "model.confidence", NULL},
    {"--device", "model.device", NULL},
    {"--debug", "stream.debug_mode", "true"},
    {"--log-format", "logging.format", NULL},
};

static ft_status add_override(ft_cli_common *c, const char *flag, const char *key, size_t keylen,
                              const char *value)
{
    if (c->sources.n_overrides >= FT_CONFIG_MAX_OVERRIDES) {
        fprintf(stderr, "football-tracker: %s: too many overrides (limit %d)\n", flag,
                FT_CONFIG_MAX_OVERRIDES);
        return FT_ERR_USAGE;
    }
    if (keylen >= FT_CONFIG_KEYLEN || strlen(value) >= FT_OPT_STRLEN) {
        fprintf(stderr, "football-tracker: %s: key or value too long\n", flag);
        return FT_ERR_USAGE;
    }
    ft_config_override *o = &c->sources.overrides[c->sources.n_overrides++];
    snprintf(o->key, sizeof(o->key), "%.*s", (int)keylen, key);
    snprintf(o->value, sizeof(o->value), "%s", value);
    snprintf(o->origin, sizeof(o->origin), "CLI %s", flag);
    return FT_OK;
}

/* Matches argv[*i] against `flag` written as "--flag value" or "--flag=value".
 * Returns 0 for no match, 1 with *value set, -1 when the value is missing. */
static int match_valued(const char *flag, int argc, char **argv, int *i, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(flag);
    if (strncmp(a, flag, n))
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n])
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

static ft_status set_path(char *dst, const char *flag, const char *v)
{
    if (!*v || strlen(v) >= FT_OPT_STRLEN) {
        fprintf(stderr, "football-tracker: %s: %s path\n", flag, *v ? "too long a" : "empty");
        return FT_ERR_USAGE;
    }
    snprintf(dst, FT_OPT_STRLEN, "%s", v);
    return FT_OK;
}

/* --input and --output: an empty value (an unset shell variable) is a
 * command-line error like a missing one, not a URL to try. */
static ft_status set_url(const char **dst, const char *flag, const char *v)
{
    if (!*v) {
        fprintf(stderr, "football-tracker: %s: empty value\n", flag);
        return FT_ERR_USAGE;
    }
    *dst = v;
    return FT_OK;
}

ft_status ft_cli_common_add_override(ft_cli_common *c, const char *flag, const char *key,
                                     const char *value)
{
    return add_override(c, flag, key, strlen(key), value);
}

ft_status ft_cli_common_parse_arg(ft_cli_common *c, int argc, char **argv, int *i, bool *used)
{
    const char *v = NULL;
    int m;
    *used = true;
    for (size_t k = 0; k < sizeof(key_flags) / sizeof(key_flags[0]); k++) {
        if (key_flags[k].fixed) {
            if (strcmp(argv[*i], key_flags[k].flag))
                continue;
            return add_override(c, key_flags[k].flag, key_flags[k].key, strlen(key_flags[k].key),
                                key_flags[k].fixed);
        }
        m = match_valued(key_flags[k].flag, argc, argv, i, &v);
        if (m < 0)
            goto missing;
        if (m > 0)
            return add_override(c, key_flags[k].flag, key_flags[k].key, strlen(key_flags[k].key),
                                v);
    }
    if ((m = match_valued("--set", argc, argv, i, &v)) != 0) {
        if (m < 0)
            goto missing;
        const char *eq = strchr(v, '=');
        if (!eq || eq == v) {
            fprintf(stderr, "football-tracker: --set: expected section.key=value, got '%s'\n", v);
            return FT_ERR_USAGE;
        }
        return add_override(c, "--set", v, (size_t)(eq - v), eq + 1);
    }
    if ((m = match_valued("--model-config", argc, argv, i, &v)) != 0) {
        if (m < 0)
            goto missing;
        return set_path(c->sources.files[FT_CONFIG_FILE_MODEL], "--model-config", v);
    }
    if ((m = match_valued("--stream-config", argc, argv, i, &v)) != 0) {
        if (m < 0)
            goto missing;
        return set_path(c->sources.files[FT_CONFIG_FILE_STREAM], "--stream-config", v);
    }
    if ((m = match_valued("--input", argc, argv, i, &v)) != 0) {
        if (m < 0)
            goto missing;
        return set_url(&c->input, "--input", v);
    }
    if ((m = match_valued("--output", argc, argv, i, &v)) != 0) {
        if (m < 0)
            goto missing;
        return set_url(&c->output, "--output", v);
    }
    *used = false;
    return FT_OK;
missing:
    fprintf(stderr, "football-tracker: %s needs a value\n", argv[*i]);
    return FT_ERR_USAGE;
}

void ft_cli_common_usage(FILE *out)
{
    fprintf(out,
            "  --model-config PATH      model_config.yml (default $FT_MODEL_CONFIG, else built-in "
            "defaults)\n"
            "  --stream-config PATH     stream_config.yml (default $FT_STREAM_CONFIG, else "
            "built-in defaults)\n"
            "  --input PATH|URL         input video file or stream (rtmp://, rtmps://, srt://)\n"
            "  --output PATH|URL        output video file or stream\n"
            "  --debug                  debug mode (stream.debug_mode=true)\n"
            "  --confidence X           detection confidence threshold (model.confidence)\n"
            "  --device auto|cuda|cpu   processing device (model.device)\n"
            "  --log-format text|json   log record format (logging.format)\n"
            "  --set SECTION.KEY=VALUE  set any configuration key (repeatable)\n");
}

ft_status ft_cli_common_load(const ft_cli_common *c, ft_config **out)
{
    char err[4096];
    ft_status st = ft_config_load(&ft_settings_schema, &c->sources, out, err, sizeof(err));
    if (st) {
        /* Values are quoted in the messages: mask secrets line by line. */
        char line[sizeof(err) + 64];
        fprintf(stderr, "football-tracker: configuration error:\n");
        char *save = NULL;
        for (char *l = strtok_r(err, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            ft_log_sanitize(l, line, sizeof(line));
            fprintf(stderr, "%s\n", line);
        }
        return st;
    }
    st = ft_log_configure(&ft_settings_of(*out)->logging);
    if (st)
        ft_config_destroy(out);
    return st;
}

const char *ft_cli_opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n))
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] || *i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* What the handler acts on; set only around ft_cli_run_with_signals. */
static _Atomic(const ft_cli_signal_ops *) signal_ops;
static _Atomic(void *) signal_target;

static void on_signal(int sig)
{
    const ft_cli_signal_ops *ops = atomic_load(&signal_ops);
    void *target = atomic_load(&signal_target);
    if (!ops || !target)
        return;
    if (sig == SIGHUP)
        ops->reload(target);
    else
        ops->stop(target);
}

ft_status ft_cli_run_with_signals(const ft_cli_signal_ops *ops, void *target)
{
    atomic_store(&signal_target, target);
    atomic_store(&signal_ops, ops);
    struct sigaction sa = {0}, old_int, old_term, old_hup;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (ops->reload)
        sigaction(SIGHUP, &sa, &old_hup);
    ft_status st = ops->run(target);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (ops->reload)
        sigaction(SIGHUP, &old_hup, NULL);
    atomic_store(&signal_ops, NULL);
    atomic_store(&signal_target, NULL);
    return st;
}
