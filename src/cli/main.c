/* football-tracker: entry point and subcommand dispatch. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/status.h"

const ft_command ft_commands[] = {
    {"batch", "process a video file into a virtual-camera video", ft_cmd_batch},
    {"stream", "live service: RTMP/SRT in and out, HTTP status, metrics, hot reload", ft_cmd_stream},
    {"serve", "run many streams (one worker process each) from streams.yml", ft_cmd_serve},
    {"infer", "shared inference server: one model batching the frames of many workers",
     ft_cmd_infer},
    {"config", "print the effective configuration or the key reference", ft_cmd_config},
    {"bench", "run a benchmark (detector, ...)", ft_cmd_bench},
    {"inspect", "print a model file's args, tensors and RF-DETR size", ft_cmd_inspect},
    {"detect", "run an RF-DETR model on an image or video, print detections as JSON", ft_cmd_detect},
    {"synth", "render a synthetic match video with ball ground truth", ft_cmd_synth},
    {"eval", "score a track against ground truth; run the evaluation suite", ft_cmd_eval},
    {NULL, NULL, NULL},
};

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: football-tracker [--help] [--version] <command> [options]\n"
            "\n"
            "Follows the ball in football video and renders a smooth virtual camera.\n"
            "\n"
            "commands:\n");
    for (const ft_command *c = ft_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'football-tracker <command> --help' for the options of a command.\n"
                 "Exit codes: 0 success, 1 configuration, 2 model load, 3 input, 4 output,\n"
                 "5 GPU/CUDA, 6 runtime.\n");
}

int main(int argc, char **argv)
{
    /* A reader that goes away (`--track-out /dev/stdout | head`, a FIFO, a
     * dropped connection) must be a write error that the commands report and
     * clean up after (exit 4, temporary files removed), not a silent death. */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ign, NULL);
    if (argc < 2) {
        print_usage(stderr);
        return FT_EXIT_CONFIG;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_usage(stdout);
        return FT_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("football-tracker %s\n", FT_VERSION);
        return FT_EXIT_OK;
    }
    for (const ft_command *c = ft_commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "football-tracker: unknown command '%s'\n", name);
    print_usage(stderr);
    return FT_EXIT_CONFIG;
}
