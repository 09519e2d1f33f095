ft_test(test_service_http SOURCES test_service_http.c ft_test_service.c LIBS ft_service TIMEOUT 60)
ft_test(test_service_stream SOURCES test_service_stream.c ft_test_service.c LIBS ft_core TIMEOUT 150)
ft_test(test_service_listen SOURCES test_service_listen.c ft_test_service.c LIBS ft_core TIMEOUT 60)
