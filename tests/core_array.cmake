# Growable heap arrays (core/array.c).
ft_test(test_core_array SOURCES test_core_array.c LIBS ft_core)
