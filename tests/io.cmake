ft_test(test_io_roundtrip SOURCES test_io_roundtrip.c ft_test_media.c LIBS ft_tools ft_io TIMEOUT 120)
