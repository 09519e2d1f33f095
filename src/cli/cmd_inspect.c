/* `inspect`: print what a model file holds (format, saved architecture args,
 * every tensor's name, dtype and shape, the parameter count, and the RF-DETR
 * size the detector would build from it) without building a model, so users
 * can check a checkpoint before running it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/status.h"
#include "detect/rfdetr.h"
#include "nn/weights.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker inspect [--json] [--ema] [--args-only] MODEL\n"
                 "\n"
                 "Prints a model file's format (.pth checkpoint or safetensors, detected from\n"
                 "its content), its saved architecture args, each tensor's name, dtype and\n"
                 "shape, the parameter count, and the RF-DETR size and architecture that\n"
                 "batch/detect would build from it ('rfdetr: none' for other files,\n"
                 "'unsupported' with the reason logged when it looks like RF-DETR but would\n"
                 "not load).\n"
                 "\n"
                 "  --json        one JSON object instead of text\n"
                 "  --ema         read the checkpoint's ema_model instead of model\n"
                 "  --args-only   skip the tensor list\n"
                 "\n"
                 "Exit codes: 0 success, 1 bad command line, 2 the file cannot be loaded.\n");
}

/* Print s as a JSON string literal. */
static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* The shortest decimal that reads back as the same double, as Python's repr
 * prints it (0.00015, not 0.00014999999999999999), and always with a '.' or
 * exponent so that it stays a float. */
static void print_float(FILE *out, double f)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, f);
        if (strtod(buf, NULL) == f)
            break;
    }
    fputs(buf, out);
    if (!strpbrk(buf, ".e"))
        fputs(".0", out);
}

/* Print an arg value as JSON (text output uses the same spelling; Python's
 * None/True/False become null/true/false in both). */
static void print_value(FILE *out, const ft_nn_arg *a)
{
    switch (a->type) {
    case FT_NN_ARG_NONE:
        fputs("null", out);
        break;
    case FT_NN_ARG_BOOL:
        fputs(a->b ? "true" : "false", out);
        break;
    case FT_NN_ARG_INT:
        fprintf(out, "%lld", (long long)a->i);
        break;
    case FT_NN_ARG_FLOAT:
        /* JSON has no NaN or infinity. */
        if (isfinite(a->f))
            print_float(out, a->f);
        else
            fputs("null", out);
        break;
    case FT_NN_ARG_STR:
        json_str(out, a->s);
        break;
    case FT_NN_ARG_LIST:
        fputc('[', out);
        for (size_t k = 0; k < a->len; k++) {
            if (k)
                fputs(", ", out);
            print_value(out, &a->items[k]);
        }
        fputc(']', out);
        break;
    case FT_NN_ARG_OTHER:
        fputs("\"<object>\"", out);
        break;
    }
}

/* What the RF-DETR detector makes of the file. */
typedef enum arch_result {
    ARCH_NONE,        /* no class head or ViT embeddings: not an RF-DETR checkpoint */
    ARCH_OK,          /* *a is the architecture it would build */
    ARCH_UNSUPPORTED, /* looks like RF-DETR but would not load (reason logged) */
} arch_result;

static arch_result rfdetr_arch(const ft_nn_weights *w, ft_rfdetr_arch *a)
{
    if (!ft_nn_weights_find(w, "class_embed.bias") ||
        !ft_nn_weights_find(w, "backbone.0.encoder.encoder.embeddings.cls_token"))
        return ARCH_NONE;
    return ft_rfdetr_arch_resolve(w, NULL, a) == FT_OK ? ARCH_OK : ARCH_UNSUPPORTED;
}

static void print_text(const ft_nn_weights *w, bool tensors)
{
    printf("file: %s\n", ft_nn_weights_path(w));
    printf("format: %s\n", ft_nn_weights_format_name(ft_nn_weights_format_of(w)));
    if (ft_nn_weights_has_args(w)) {
        printf("args (%zu):\n", ft_nn_weights_arg_count(w));
        for (size_t i = 0; i < ft_nn_weights_arg_count(w); i++) {
            const ft_nn_arg *a = ft_nn_weights_arg_at(w, i);
            printf("  %s = ", a->key);
            print_value(stdout, a);
            putchar('\n');
        }
    } else {
        printf("args: none saved\n");
    }
    if (tensors) {
        printf("tensors (%zu):\n", ft_nn_weights_count(w));
        for (size_t i = 0; i < ft_nn_weights_count(w); i++) {
            const ft_nn_tensor *t = ft_nn_weights_at(w, i);
            char shape[128];
            printf("  %-72s %-4s %s\n", t->name, ft_nn_dtype_name(t->dtype),
                   ft_nn_tensor_shape_str(t, shape, sizeof(shape)));
        }
    }
    printf("tensor count: %zu\n", ft_nn_weights_count(w));
    printf("parameters: %lld\n", (long long)ft_nn_weights_param_count(w));
    ft_rfdetr_arch a;
    arch_result r = rfdetr_arch(w, &a);
    if (r == ARCH_OK)
        printf("rfdetr: %s (input %d, patch %d, %d windows per side, ViT %d wide x %d layers, "
               "hidden %d, %d decoder layers, %d queries, %d classes)\n",
               a.size, a.resolution, a.patch, a.windows, a.vit_dim, a.vit_layers, a.hidden,
               a.dec_layers, a.num_queries, a.num_classes);
    else
        printf("rfdetr: %s\n", r == ARCH_NONE ? "none" : "unsupported (reason logged above)");
}

static void print_json(const ft_nn_weights *w, bool tensors)
{
    printf("{\"file\": ");
    json_str(stdout, ft_nn_weights_path(w));
    printf(", \"format\": \"%s\", \"args\": ",
           ft_nn_weights_format_name(ft_nn_weights_format_of(w)));
    if (ft_nn_weights_has_args(w)) {
        putchar('{');
        for (size_t i = 0; i < ft_nn_weights_arg_count(w); i++) {
            const ft_nn_arg *a = ft_nn_weights_arg_at(w, i);
            if (i)
                printf(", ");
            json_str(stdout, a->key);
            printf(": ");
            print_value(stdout, a);
        }
        putchar('}');
    } else {
        printf("null");
    }
    if (tensors) {
        printf(", \"tensors\": [");
        for (size_t i = 0; i < ft_nn_weights_count(w); i++) {
            const ft_nn_tensor *t = ft_nn_weights_at(w, i);
            char shape[128];
            printf("%s{\"name\": ", i ? ", " : "");
            json_str(stdout, t->name);
            printf(", \"dtype\": \"%s\", \"shape\": %s}", ft_nn_dtype_name(t->dtype),
                   ft_nn_tensor_shape_str(t, shape, sizeof(shape)));
        }
        putchar(']');
    }
    printf(", \"tensor_count\": %zu, \"parameters\": %lld, \"rfdetr\": ", ft_nn_weights_count(w),
           (long long)ft_nn_weights_param_count(w));
    ft_rfdetr_arch a;
    arch_result r = rfdetr_arch(w, &a);
    if (r == ARCH_OK) {
        printf("{\"size\": ");
        json_str(stdout, a.size);
        printf(", \"resolution\": %d, \"patch\": %d, \"windows\": %d, \"vit_dim\": %d, "
               "\"vit_layers\": %d, \"hidden\": %d, \"dec_layers\": %d, \"num_queries\": %d, "
               "\"num_classes\": %d}}\n",
               a.resolution, a.patch, a.windows, a.vit_dim, a.vit_layers, a.hidden, a.dec_layers,
               a.num_queries, a.num_classes);
    } else {
        printf("%s}\n", r == ARCH_NONE ? "null" : "\"unsupported\"");
    }
}

int ft_cmd_inspect(int argc, char **argv)
{
    bool json = false, tensors = true;
    ft_nn_weights_params params = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--ema")) {
            params.use_ema = true;
        } else if (!strcmp(argv[i], "--args-only")) {
            tensors = false;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "football-tracker inspect: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return FT_EXIT_CONFIG;
        } else if (params.path) {
            fprintf(stderr, "football-tracker inspect: one model file at a time ('%s')\n", argv[i]);
            return FT_EXIT_CONFIG;
        } else {
            params.path = argv[i];
        }
    }
    if (!params.path) {
        fprintf(stderr, "football-tracker inspect: no model file given\n");
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    ft_nn_weights *w = NULL;
    /* The loader logs the reason (file name and what is wrong) on failure. */
    ft_status st = ft_nn_weights_open_params(&params, &w);
    if (st)
        return ft_status_exit_code(st);
    if (json)
        print_json(w, tensors);
    else
        print_text(w, tensors);
    ft_nn_weights_destroy(&w);
    return FT_EXIT_OK;
}
