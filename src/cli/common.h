/* Options shared by the batch, stream and detect commands, and the settings
 * they load:
 *
 *   --model-config PATH  --stream-config PATH  --input PATH/URL  --output PATH/URL
 *   --debug  --confidence X  --device {auto,cuda,cpu}  --log-format {text,json}
 *   --set section.key=value  (any configuration key, repeatable)
 *
 * Values may be given as "--opt value" or "--opt=value". The CLI layer has the
 * highest precedence (see core/config.h). A command parses its own options
 * around these:
 *
 *     ft_cli_common c;
 *     ft_cli_common_init(&c);
 *     for (int i = 1; i < argc; i++) {
 *         bool used;
 *         if (ft_cli_common_parse_arg(&c, argc, argv, &i, &used)) return FT_EXIT_CONFIG;
 *         if (used) continue;
 *         ... own options, else error ...
 *     }
 *     ft_config *cfg = NULL;
 *     ft_status st = ft_cli_common_load(&c, &cfg);
 *     if (st) return ft_status_exit_code(st);
 */
#ifndef FT_CLI_COMMON_H
#define FT_CLI_COMMON_H

#include <stdbool.h>
#include <stdio.h>

#include "core/config.h"
#include "core/status.h"

typedef struct ft_cli_common {
    const char *input;         /* --input, borrowed from argv; NULL when not given */
    const char *output;        /* --output, borrowed from argv; NULL when not given */
    ft_config_sources sources; /* config files and CLI overrides */
} ft_cli_common;

/* Empties c. The config files default to $FT_MODEL_CONFIG and
 * $FT_STREAM_CONFIG when those are set, else to none (built-in defaults). */
void ft_cli_common_init(ft_cli_common *c);

/* Looks at argv[*i]: when it is a common option, records it, advances *i past
 * its value and sets *used; otherwise leaves everything alone and clears
 * *used. FT_ERR_USAGE (message on stderr naming the option) for a missing or
 * bad value or too many overrides. argv is borrowed and must outlive c. */
FT_NODISCARD ft_status ft_cli_common_parse_arg(ft_cli_common *c, int argc, char **argv, int *i,
                                               bool *used);

/* Records a command-specific flag that sets one configuration key, e.g.
 * ("--http-port", "http.port", "9000") for `stream`; the origin shows as
 * "CLI <flag>". FT_ERR_USAGE (message on stderr) when the override list is
 * full or the key or value is too long. Strings are copied. */
FT_NODISCARD ft_status ft_cli_common_add_override(ft_cli_common *c, const char *flag,
                                                  const char *key, const char *value);

/* Prints the help lines of the common options (for a command's --help). */
void ft_cli_common_usage(FILE *out);

/* Loads the settings (pipeline/settings.h schema) from c's sources into *out
 * (returned-owned, ft_config_destroy), and applies its logging section. On
 * error prints the problems to stderr and returns FT_ERR_CONFIG. */
FT_NODISCARD ft_status ft_cli_common_load(const ft_cli_common *c, ft_config **out);

/* The value of option `name` at argv[*i], written "--name value" or
 * "--name=value" (borrowed from argv), advancing *i past a separate value;
 * NULL when argv[*i] is another option or the value is missing. */
const char *ft_cli_opt_value(int argc, char **argv, int *i, const char *name);

/* How a long-running command is driven from signals. stop and reload run in
 * the signal handler: they must be async-signal-safe (set atomics). */
typedef struct ft_cli_signal_ops {
    ft_status (*run)(void *target);
    void (*stop)(void *target);   /* SIGINT, SIGTERM */
    void (*reload)(void *target); /* SIGHUP; NULL leaves SIGHUP alone */
} ft_cli_signal_ops;

/* Returns ops->run(target) run with the signal handlers above installed and
 * the previous ones restored afterwards. One at a time per process; target
 * and ops are borrowed for the call. */
FT_NODISCARD ft_status ft_cli_run_with_signals(const ft_cli_signal_ops *ops, void *target);

#endif
