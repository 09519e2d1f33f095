# Table-driven defaults and range checks of option tables (core/options.c).
ft_test(test_core_options SOURCES test_core_options.c LIBS ft_core m)
