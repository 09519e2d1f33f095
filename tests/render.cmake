ft_test(test_render_crop SOURCES test_render_crop.c LIBS ft_render TIMEOUT 60)
