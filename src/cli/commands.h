/* Subcommands of the football-tracker program. Each takes the arguments after
 * its name (argv[0] is the subcommand name) and returns a process exit code. */
#ifndef FT_CLI_COMMANDS_H
#define FT_CLI_COMMANDS_H

typedef struct ft_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} ft_command;

/* config: print the effective configuration (--print) or the key reference (--reference). */
int ft_cmd_config(int argc, char **argv);
/* batch: process a whole video file (cmd_batch.c). */
int ft_cmd_batch(int argc, char **argv);
/* stream: live service, RTMP/SRT in and out, HTTP endpoints, hot reload (cmd_stream.c). */
int ft_cmd_stream(int argc, char **argv);
/* serve: many streams, one stream worker process each, restarts, one metrics port (cmd_serve.c). */
int ft_cmd_serve(int argc, char **argv);
int ft_cmd_infer(int argc, char **argv);

/* bench: run a named benchmark (detector, ...) and print figures and a ratio to a baseline. */
int ft_cmd_bench(int argc, char **argv);

/* inspect: print a model file's format, saved args, tensors and parameter count. */
int ft_cmd_inspect(int argc, char **argv);
/* detect: run an RF-DETR checkpoint on a PNG or a video; JSON lines of detections. */
int ft_cmd_detect(int argc, char **argv);

/* synth: render a synthetic match with ground truth (tools/synth). */
int ft_cmd_synth(int argc, char **argv);
/* eval: score a track against ground truth, or run the evaluation suite (tools/eval). */
int ft_cmd_eval(int argc, char **argv);

/* The command table, ended by a NULL name (defined in main.c). */
extern const ft_command ft_commands[];

#endif
