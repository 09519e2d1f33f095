ft_test(test_detect_rfdetr_fidelity SOURCES test_detect_rfdetr_fidelity.c ft_test_fixture.c LIBS ft_detect TIMEOUT 120)
ft_test(test_detect_rfdetr_model SOURCES test_detect_rfdetr_model.c ft_test_fixture.c LIBS ft_detect m TIMEOUT 300)
