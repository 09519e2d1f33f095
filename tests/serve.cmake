# serve supervisor, streams.yml, deployment files (YAML/JSON), end to end with two workers.
ft_test(test_service_serve SOURCES test_service_serve.c ft_test_service.c LIBS ft_service TIMEOUT 120)
