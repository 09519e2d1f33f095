ft_test(test_nn_cpu_ops SOURCES test_nn_cpu_ops.c LIBS ft_nn m TIMEOUT 60)
