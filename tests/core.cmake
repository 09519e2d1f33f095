ft_test(test_core_status SOURCES test_core_status.c LIBS ft_core)
ft_test(test_core_config SOURCES test_core_config.c LIBS ft_core m)
ft_test(test_core_log SOURCES test_core_log.c LIBS ft_core)
