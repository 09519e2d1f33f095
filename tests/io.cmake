ft_test(test_io_roundtrip SOURCES test_io_roundtrip.c LIBS ft_tools ft_io TIMEOUT 120)
