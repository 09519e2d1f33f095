ft_test(test_core_status SOURCES test_core_status.c LIBS ft_core)
