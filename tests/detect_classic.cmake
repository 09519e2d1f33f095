# Tests of the default detector and the detection filters (detect/classic, detect/filters).
if(TARGET ft_detect)
    ft_test(test_detect_filters SOURCES test_detect_filters.c LIBS ft_detect)
    ft_test(test_detect_classic SOURCES test_detect_classic.c LIBS ft_detect)
    ft_test(test_detect_classic_net SOURCES test_detect_classic_net.c LIBS ft_detect)
    ft_test(test_detect_classic_search SOURCES test_detect_classic_search.c LIBS ft_detect)
    if(TARGET ft_tools)
        ft_test(test_detect_classic_eval SOURCES test_detect_classic_eval.c ft_test_classic.c LIBS ft_tools ft_detect
                TIMEOUT 120)
        ft_test(test_detect_classic_overlay SOURCES test_detect_classic_overlay.c ft_test_classic.c LIBS ft_tools ft_detect
                TIMEOUT 120)
    endif()
endif()
