ft_test(test_io_roundtrip SOURCES test_io_roundtrip.c ft_test_media.c LIBS ft_tools ft_io TIMEOUT 120)
ft_test(test_io_fifo SOURCES test_io_fifo.c ft_test_service.c LIBS ft_io TIMEOUT 60)
ft_test(test_io_frame_pool SOURCES test_io_frame_pool.c LIBS ft_io)
ft_test(test_io_rotate SOURCES test_io_rotate.c LIBS ft_io)
