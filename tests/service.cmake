ft_test(test_service_http SOURCES test_service_http.c LIBS ft_service TIMEOUT 60)
