ft_test(test_service_http SOURCES test_service_http.c ft_test_service.c LIBS ft_service TIMEOUT 60)
ft_test(test_service_stream SOURCES test_service_stream.c ft_test_service.c ft_test_json.c LIBS ft_core TIMEOUT 150)
ft_test(test_service_listen SOURCES test_service_listen.c ft_test_service.c LIBS ft_core TIMEOUT 60)
# shared inference server (option C of docs/gpu-sharing.md): batching, restart, bad paths.
ft_test(test_service_infer SOURCES test_service_infer.c ft_test_service.c ft_test_cmd.c ft_test_fixture.c LIBS ft_service TIMEOUT 240)
