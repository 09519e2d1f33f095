# Synthetic generator and evaluator (tools/synth, tools/eval, pipeline/track_csv).
ft_test(test_tools_synth SOURCES test_tools_synth.c LIBS ft_tools TIMEOUT 120)
ft_test(test_tools_eval SOURCES test_tools_eval.c LIBS ft_tools TIMEOUT 120)
ft_test(test_tools_suite SOURCES test_tools_suite.c LIBS ft_core TIMEOUT 600)
ft_test(test_tools_bench_help SOURCES test_tools_bench_help.c ft_test_cmd.c)
