/* `config`: show the effective configuration or the reference of every key. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/config.h"
#include "pipeline/settings.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker config --print [options]\n"
                 "       football-tracker config --reference\n"
                 "\n"
                 "  --print       print the effective configuration as YAML, each value followed\n"
                 "                by its origin: default, FILE:LINE, env VAR or CLI --flag\n"
                 "  --json        with --print: one JSON object (value, origin, hot per key)\n"
                 "  --reference   print the Markdown reference of every configuration key\n"
                 "\n"
                 "options (as for batch and stream):\n");
    ft_cli_common_usage(out);
    fprintf(out, "\nExit codes: 0 success, 1 configuration error.\n");
}

int ft_cmd_config(int argc, char **argv)
{
    ft_cli_common common;
    bool print = false, reference = false, json = false;
    ft_cli_common_init(&common);
    for (int i = 1; i < argc; i++) {
        bool used;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        }
        if (!strcmp(argv[i], "--print")) {
            print = true;
            continue;
        }
        if (!strcmp(argv[i], "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(argv[i], "--reference")) {
            reference = true;
            continue;
        }
        if (ft_cli_common_parse_arg(&common, argc, argv, &i, &used))
            return FT_EXIT_CONFIG;
        if (!used) {
            fprintf(stderr, "football-tracker config: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }
    if (print == reference) {
        fprintf(stderr, "football-tracker config: give exactly one of --print, --reference\n");
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    if (json && !print) {
        fprintf(stderr, "football-tracker config: --json goes with --print\n");
        return FT_EXIT_CONFIG;
    }
    if (reference) {
        ft_config_reference(&ft_settings_schema, stdout);
        return FT_EXIT_OK;
    }
    ft_config *cfg = NULL;
    ft_status st = ft_cli_common_load(&common, &cfg);
    if (st)
        return ft_status_exit_code(st);
    if (json)
        ft_config_print_json(cfg, stdout);
    else
        ft_config_print(cfg, stdout);
    ft_config_destroy(&cfg);
    return FT_EXIT_OK;
}
